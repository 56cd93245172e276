"""The Runs page and the store queries behind it: pages of runs with filters, counted and
read with LIMIT/OFFSET (never the whole table), and a first screen on an empty store."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import event
from ui_support import SCRIPTED_RECIPE, record

from ttc.storage import RunStore
from ttc.ui.runs_page import RunFilters

SMALL = SCRIPTED_RECIPE.replace("  - {use: critic, mode: each, max_tokens: 32, retries: 0}\n", "")


@pytest.fixture
def store_with_runs(db_url: str) -> str:
    """30 runs of one recipe (questions q0..q29) and 2 of another."""
    for i in range(30):
        record(db_url, SMALL, f"question q{i} about apples", seed=i)
    other = SMALL.replace("name: scripted-critic", "name: other-recipe")
    record(db_url, other, "a pear question")
    record(db_url, other, "another pear question")
    return db_url


def test_store_pages_filters_and_counts(store_with_runs: str) -> None:
    store = RunStore.open(store_with_runs)
    assert store.count_runs() == 32
    assert store.recipe_names() == ["other-recipe", "scripted-critic"]
    first = store.run_summaries(limit=10)
    second = store.run_summaries(limit=10, offset=10)
    assert len(first) == len(second) == 10 and not {r.id for r in first} & {r.id for r in second}
    assert first[0].question == "another pear question"  # newest first
    assert store.count_runs(text="PEAR") == 2  # case-insensitive, in the question
    assert store.count_runs(text="q1") == 11  # q1, q10..q19
    assert store.count_runs(text="4") + store.count_runs(text="5") >= 32  # answers too
    assert store.count_runs(recipe="other-recipe", status="succeeded") == 2
    assert store.count_runs(status="failed") == 0
    assert [r.id for r in store.list_runs(limit=3, offset=2)] == [r.id for r in first[2:5]]
    assert store.count_runs(text="50%_") == 0  # LIKE wildcards are escaped


def test_a_page_of_runs_is_one_limited_query_without_the_heavy_columns(
        store_with_runs: str) -> None:
    store = RunStore.open(store_with_runs)
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda conn, cursor, sql, *args: statements.append(sql))
    store.run_summaries(limit=25, offset=25, text="apples")
    (query,) = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert "LIMIT" in query.upper() and "OFFSET" in query.upper()
    for heavy in ("recipe_text", "ledger", "selection"):
        assert heavy not in query


def test_runs_page_shows_one_page_and_filters(app, store_with_runs: str) -> None:
    at = app(store_with_runs, "runs")
    (table,) = at.dataframe
    assert len(table.value) == 25
    assert "32 run(s) match; page 1 of 2." in [c.value for c in at.caption]
    page = next(w for w in at.number_input if w.key.startswith("runs.page"))
    page.set_value(2).run()
    assert len(at.dataframe[0].value) == 7
    at.text_input(key="runs.text").set_value("pear").run()
    rows = at.dataframe[0].value
    assert len(rows) == 2 and set(rows["recipe"]) == {"other-recipe"}
    assert all(link.startswith("run?run=r-") for link in rows["run"])
    at.text_input(key="runs.text").set_value("").run()
    at.selectbox(key="runs.status").set_value("failed").run()
    assert "0 run(s) match; page 1 of 1." in [c.value for c in at.caption]
    at.selectbox(key="runs.status").set_value(None).run()
    assert not at.exception


def test_date_filters_cover_whole_local_days(store_with_runs: str) -> None:
    # (AppTest cannot set a date_input that starts empty, so the filter is checked here.)
    store = RunStore.open(store_with_runs)
    today = date.today()
    assert store.count_runs(**RunFilters(since=today, until=today).query()) == 32
    assert store.count_runs(**RunFilters(until=today - timedelta(days=1)).query()) == 0
    assert store.count_runs(**RunFilters(since=today + timedelta(days=1)).query()) == 0


def test_an_empty_store_opens_on_a_first_screen_that_offers_the_demo(app, db_url: str) -> None:
    at = app(db_url)
    assert any("No runs are recorded" in i.value for i in at.info)
    assert at.button(key="runs.demo").label == "Run the demo recipe"
    assert any("best-of-n-majority" in c.value for c in at.code)
