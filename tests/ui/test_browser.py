"""End to end in a real headless Chromium (Debian's ``chromium`` and ``chromium-driver``):
start ``ttc ui`` on 127.0.0.1, build a recipe by clicking, run it on the embedded model,
open its run page, and save screenshots as test artefacts (``TTC_TEST_ARTIFACTS``, else
``<tmp>/ttc-test-artifacts/ui``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import artifacts, chromium, needs_chromium, serve_ui, settled

pytestmark = [pytest.mark.slow, pytest.mark.model, needs_chromium]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """``ttc ui`` on a fresh store; its URL. The server is the only process running the
    model while the browser drives it."""
    with serve_ui(f"sqlite:///{tmp_path / 'runs.db'}", tmp_path / "server.log") as url:
        yield url


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    with chromium(tmp_path / "chromium") as driver:
        yield driver


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
