"""End to end in a real headless Chromium (Debian's ``chromium`` and ``chromium-driver``):
start ``ttc ui`` on 127.0.0.1, build a recipe by clicking, run it on the embedded model,
open its run page, and save screenshots as test artefacts (``TTC_TEST_ARTIFACTS``, else
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
from pathlib import Path

import httpx
import pytest

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.model,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                       reason="needs Debian's chromium and chromium-driver "
                       "(apt-get install -y chromium chromium-driver)"),
]

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


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """``ttc ui`` on a fresh store; its URL. The server is the only process running the
    model while the browser drives it."""
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "ttc", "ui", "--db", f"sqlite:///{tmp_path / 'runs.db'}",
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
            assert process.poll() is None, (tmp_path / "server.log").read_text()
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


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}",
                 "--window-size=1440,2200"]:
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


def test_build_run_and_inspect_a_recipe_in_a_browser(server: str, browser) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)

    def widget(key: str, tag: str = "input") -> object:
        css = f".st-key-{key.replace('.', '-')} {tag}"
        return wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, css)))

    def expand(label: str) -> None:
        summary = wait.until(ready.element_to_be_clickable(
            (By.XPATH, f"//summary[contains(., '{label}')]")))
        summary.click()

    def type_into(key: str, value: str) -> None:
        field = widget(key)
        field.click()
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(value, Keys.ENTER)
        wait.until(lambda _: widget(key).get_attribute("value") == value)
        time.sleep(0.5)  # let the rerun that the edit triggers finish

    browser.get(f"{server}/builder")
    wait.until(ready.presence_of_element_located((By.XPATH, "//h1[contains(., 'Builder')]")))
    expand("local options")
    type_into("b0.model.small.local.threads", "1")
    expand("parameters")
    type_into("b0.stages.0.sample.n", "2")
    type_into("b0.stages.0.sample.max_tokens", "12")
    selector = widget("b0.select", "input[role='combobox']")
    selector.click()
    selector.send_keys("self_cert")
    wait.until(ready.element_to_be_clickable(
        (By.XPATH, "//*[@role='option' and normalize-space(.)='self_certainty']"))).click()
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, ".st-key-b1-select")))
    preview = browser.find_element(By.XPATH, "//code[contains(., 'self_certainty')]").text
    assert "n: 2" in preview and "max_tokens: 12" in preview and "threads: 1" in preview
    assert "recipe.yaml: ok" in browser.page_source
    type_into("builder.question", "What is 3 + 4? Answer with a number.")
    widget("builder.run", "button").click()
    WebDriverWait(browser, 240).until(ready.element_to_be_clickable(
        (By.CSS_SELECTOR, ".st-key-builder-open_run button")))
    settled(browser)
    assert "succeeded" in browser.page_source
    browser.execute_script("arguments[0].scrollIntoView({block: 'end'})",
                           widget("builder.open_run", "button"))
    browser.save_screenshot(str(artifacts() / "builder.png"))

    widget("builder.open_run", "button").click()
    title = wait.until(ready.presence_of_element_located(
        (By.XPATH, "//h1[starts-with(normalize-space(.), 'Run r-')]")))
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "canvas, svg.marks")))
    settled(browser)
    assert "my-recipe" in browser.page_source and "★ winner" in browser.page_source
    browser.save_screenshot(str(artifacts() / "run-page.png"))
    winner_card = browser.find_element(By.CSS_SELECTOR, "h4").text
    assert "★ winner" in winner_card
    nodes = browser.find_elements(By.CSS_SELECTOR, "svg.marks g.mark-symbol path")
    ActionChains(browser).move_to_element(nodes[1]).click().perform()  # the other sample
    wait.until(lambda _: browser.find_element(By.CSS_SELECTOR, "h4").text != winner_card)
    settled(browser)
    wait.until(ready.element_to_be_clickable(
        (By.XPATH, "//*[@role='tab' and contains(., 'Certainty')]"))).click()
    tokens = wait.until(ready.presence_of_all_elements_located(
        (By.CSS_SELECTOR, ".ttc-heatmap .ttc-token")))
    assert len(tokens) >= 2
    browser.save_screenshot(str(artifacts() / "run-page-certainty.png"))
    assert title.text.startswith("Run r-")
