"""UI test fixtures: stores with recorded runs (scripted runtime: instant; the embedded model:
one small run per session), and ``AppTest`` instances of the app pointed at a store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from ui_support import APP, LOCAL_RECIPE, SCRIPTED_RECIPE, record


@pytest.fixture(autouse=True)
def _no_default_recording(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs are recorded only where a test says so."""
    for name in ("TTC_DATABASE_URL", "TTC_RECORD", "TTC_CALL_CACHE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runs.db'}"


@pytest.fixture
def scripted_run(db_url: str) -> str:
    return record(db_url, SCRIPTED_RECIPE, "What is 2 + 2?")


@pytest.fixture(scope="session")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(store URL, run id) of one small run on the embedded model, shared by the session."""
    url = f"sqlite:///{tmp_path_factory.mktemp('local') / 'runs.db'}"
    return url, record(url, LOCAL_RECIPE, "What is 3 + 4? Answer with a number.")


@pytest.fixture
def app() -> Callable[..., object]:
    """``app(db_url, page=None, **query)``: the app on that store, run once, on ``page``."""
    from streamlit.testing.v1 import AppTest

    from ttc.ui.settings import DB_KEY

    def make(url: str, page: str | None = None, timeout: float = 60, **query: str) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=timeout)
        at.session_state[DB_KEY] = url
        at.run()
        if page is not None:
            at.query_params.update(query)
            at.switch_page(f"page_scripts/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return make
