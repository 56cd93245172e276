"""What the browser tests share: ``ttc ui`` served on a free port, Debian's headless
Chromium driven through Selenium, waiting for a script run to settle, and the folder that
keeps screenshots as test artefacts (``TTC_TEST_ARTIFACTS``, else
``<tmp>/ttc-test-artifacts/ui``)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")

needs_chromium = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver "
    "(apt-get install -y chromium chromium-driver)")

CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def artifacts() -> Path:
    folder = Path(os.environ.get("TTC_TEST_ARTIFACTS")
                  or Path(tempfile.gettempdir()) / "ttc-test-artifacts") / "ui"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serve_ui(db_url: str, log_path: Path) -> Iterator[str]:
    """``ttc ui --db db_url`` until the block ends; its URL once it answers."""
    port = free_port()
    log = log_path.open("w")
    process = subprocess.Popen([sys.executable, "-m", "ttc", "ui", "--db", db_url,
                                "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "ttc ui did not start in 60 s"
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@contextmanager
def chromium(profile: Path, height: int = 2200) -> Iterator[object]:
    """A headless Chromium (1440 px wide) with its own profile folder."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size=1440,{height}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def settled(browser: object) -> None:
    """Wait until the app's script run is over (its "running" indicator is gone)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    time.sleep(0.5)
    WebDriverWait(browser, 120).until(ready.invisibility_of_element_located(
        (By.CSS_SELECTOR, "[data-testid='stStatusWidget']")))
    time.sleep(0.5)
