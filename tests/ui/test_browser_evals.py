"""The Evals pages end to end in a real headless Chromium: ``ttc ui`` on a store with evals
recorded on the scripted runtime (no model), the Evals page with three evals picked through
its URL (charts drawn, a typed selector spec added), the eval page, and an item's run
opened from it. Screenshots are saved as test artefacts (see ``browser_support``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import artifacts, chromium, needs_chromium, serve_ui, settled
from eval_support import record_evals

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture
def served_evals(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """(app URL, eval ids by name) of ``ttc ui`` on a store holding the scripted evals."""
    db_url = f"sqlite:///{tmp_path / 'runs.db'}"
    ids = record_evals(db_url, tmp_path)
    with serve_ui(db_url, tmp_path / "server.log") as url:
        yield url, ids


def test_evals_page_charts_compares_and_drills_down_in_a_browser(served_evals,
                                                                 tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    url, ids = served_evals
    with chromium(tmp_path / "chromium") as browser:
        wait = WebDriverWait(browser, 90)

        def widget(key: str, tag: str) -> object:
            css = f".st-key-{key.replace('.', '-')} {tag}"
            return wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, css)))

        def charts() -> list[object]:
            return browser.find_elements(By.CSS_SELECTOR, "[data-testid='stVegaLiteChart']")

        picked = ",".join(ids[name] for name in ("greedy", "first", "vote"))
        browser.get(f"{url}/evals?evals={picked}")
        wait.until(ready.presence_of_element_located((By.XPATH, "//h1[contains(., 'Evals')]")))
        wait.until(ready.presence_of_element_located(
            (By.XPATH, "//h3[contains(., 'Paired comparison')]")))
        wait.until(lambda _: len(charts()) == 2)
        settled(browser)
        source = browser.page_source
        assert "rotating-vote" in source and "greedy" in source
        assert "stException" not in source and "Traceback" not in source
        browser.save_screenshot(str(artifacts() / "evals.png"))

        selectors = widget("evals.scaling.selectors", "input")
        selectors.click()
        selectors.send_keys("borda:p=2", Keys.ENTER)
        wait.until(ready.presence_of_element_located(
            (By.XPATH, "//*[contains(@class, 'st-key-evals-scaling-selectors')]"
                       "//*[contains(., 'borda:p=2')]")))
        settled(browser)
        assert len(charts()) == 2
        assert not browser.find_elements(By.CSS_SELECTOR, "[data-testid='stAlertContentError']")

        browser.get(f"{url}/eval?eval={ids['vote']}")
        wait.until(ready.presence_of_element_located(
            (By.XPATH, f"//h1[contains(., 'Eval {ids['vote']}')]")))
        settled(browser)
        assert "37.5%" in browser.page_source
        browser.save_screenshot(str(artifacts() / "eval-page.png"))
        widget("eval.open_run", "button").click()
        title = wait.until(ready.presence_of_element_located(
            (By.XPATH, "//h1[starts-with(normalize-space(.), 'Run r-')]")))
        assert title.text == f"Run r-{ids['vote'][2:]}-00000"  # the first item's run
        settled(browser)
        assert "rotating-vote" in browser.page_source
