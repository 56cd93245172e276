"""The Evals page, the eval page and the store queries behind them: pages of evals and items
read with LIMIT/OFFSET (never a whole table), accuracy-vs-N and -tokens charts drawn from the
stored candidates (the same numbers as ``scaling_curve``, cached, no model call), paired
comparisons as ``compare`` reports them, and drill-down from an item to its run."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import streamlit as st
from eval_support import ITEMS, write_listed_evals
from sqlalchemy import event

from ttc.plugins.evaluation import compare, scaling_curve
from ttc.storage import RunStore
from ttc.storage.evals import EvalStore
from ttc.ui.eval_page import TAB_KEY
from ttc.ui.scaling_panel import line_labels, parse_ns, recipe_selector_spec
from ttc.ui.settings import open_store

OWN_VOTE = "majority:tie_break=first"


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    """Curves and comparisons are cached per process: each test starts without them."""
    st.cache_data.clear()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    from eval_support import record_evals

    folder = tmp_path_factory.mktemp("evals")
    url = f"sqlite:///{folder / 'runs.db'}"
    return url, record_evals(url, folder)


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str], str]:
    """60 listed evals, one running, and one of 500 items: (URL, listed ids, big id)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('large') / 'runs.db'}"
    ids = write_listed_evals(url, 60)
    write_listed_evals(url, 1, items=7, finished=False)
    (big,) = write_listed_evals(url, 1, items=500)
    return url, ids, big


def statements(url: str) -> list[str]:
    """Every SQL statement the app's store runs from now on (the app shares this process's
    store, ``open_store``)."""
    seen: list[str] = []
    event.listen(open_store(url).engine, "before_cursor_execute",
                 lambda conn, cursor, sql, *args: seen.append(" ".join(sql.split())))
    return seen


def charts(at: Any) -> list[Any]:
    return list(at.get("vega_lite_chart"))


def spec_of(chart: Any) -> dict[str, Any]:
    return json.loads(chart.proto.spec)


def scaling_chart_of(at: Any) -> Any:
    (chart,) = [c for c in charts(at) if "hconcat" in spec_of(c)]
    return chart


def chart_values(chart: Any) -> list[dict[str, Any]]:
    """The rows a chart draws: named data sets (Streamlit moves them out of the spec as Arrow
    tables) and values written inline in its layers."""
    import pyarrow as pa

    tables = [d.data.data for d in chart.proto.datasets]
    if chart.proto.data.data:
        tables.append(chart.proto.data.data)
    rows = [row for table in tables for row in pa.ipc.open_stream(table).read_all().to_pylist()]

    def inline(part: Any) -> None:
        if isinstance(part, dict):
            rows.extend((part.get("data") or {}).get("values") or [])
            for key in ("layer", "hconcat", "vconcat"):
                for sub in part.get(key, []):
                    inline(sub)

    inline(spec_of(chart))
    return rows


def table_with(at: Any, column: str) -> Any:
    """The (only) dataframe on the page that has this column, as pandas."""
    (table,) = [d.value for d in at.dataframe if column in d.value.columns]
    return table


# --- the store queries ------------------------------------------------------------------


def test_evals_and_items_are_read_a_page_at_a_time(large) -> None:
    url, ids, big = large
    evals = EvalStore(RunStore.open(url))
    assert evals.count_evals() == 62
    assert evals.count_evals(status="running") == 1
    assert evals.count_evals(recipe="recipe-0", dataset="set-a") == 10
    assert evals.recipe_names() == ["recipe-0", "recipe-1", "recipe-2"]
    assert evals.datasets() == ["set-a", "set-b"]
    first = evals.eval_listings(limit=25)
    second = evals.eval_listings(limit=25, offset=25)
    assert first[0].id == big  # newest first
    assert len(first) == len(second) == 25 and not {e.id for e in first} & {e.id for e in second}
    assert [e.id for e in evals.eval_listings(ids=ids[:2], limit=10)] == ids[1::-1]
    assert evals.count_items(big) == 500
    assert evals.count_items(big, outcome="wrong") == evals.count_items(big, only_wrong=True) \
        == 167
    assert evals.count_items(big, outcome="right") == 333
    assert evals.count_items(big, outcome="ungraded") == 0
    page = evals.items(big, outcome="wrong", offset=10, limit=5)
    assert [r.seq for r in page] == [30, 33, 36, 39, 42] and not any(r.correct for r in page)
    assert [r.seq for r in evals.items(big, offset=498, limit=25)] == [498, 499]
    with pytest.raises(ValueError, match="outcome must be one of"):
        evals.items(big, outcome="maybe")
    header = evals.get_header(big[:8])
    assert header.id == big and header.summary["correct"] == 333
    assert "item_rows" not in header.__dict__  # the items were not loaded


def test_list_and_item_pages_are_limited_queries_without_heavy_columns(large) -> None:
    url, _, big = large
    store = RunStore.open(url)
    seen: list[str] = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda conn, cursor, sql, *args: seen.append(sql))
    evals = EvalStore(store)
    evals.eval_listings(limit=25, offset=25, dataset="set-a")
    evals.items(big, outcome="right", limit=50, offset=50)
    listing, items = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    for query in (listing, items):
        assert "LIMIT" in query.upper() and "OFFSET" in query.upper()
    for heavy in ("recipe_text", "options", "recipe_source"):
        assert heavy not in listing
    assert "eval_id = ?" in items


# --- the Evals page -----------------------------------------------------------------------


def test_an_empty_store_explains_how_to_record_an_eval(app, db_url: str) -> None:
    at = app(db_url, "evals")
    assert any("No evals are recorded" in i.value for i in at.info)
    assert any(c.value.startswith("ttc eval recipes/") and "--dataset" in c.value
               for c in at.code)
    (datasets,) = at.dataframe
    assert "arithmetic-dev" in set(datasets.value["data set"])


def test_the_evals_page_pages_and_filters_a_large_store_with_bounded_queries(app, large) -> None:
    url, _, big = large
    seen = statements(url)
    at = app(url, "evals")
    (table,) = at.dataframe
    assert len(table.value) == 25
    assert table.value["eval"][0] == f"eval?eval={big}"
    assert "62 eval(s) match; page 1 of 3." in at.caption[0].value
    page = next(w for w in at.number_input if w.key.startswith("evals.page"))
    page.set_value(3).run()
    assert len(at.dataframe[0].value) == 12
    at.selectbox(key="evals.status").set_value("running").run()
    rows = at.dataframe[0].value
    assert len(rows) == 1 and rows["accuracy"].isna().all() and rows["status"][0] == "running"
    at.selectbox(key="evals.status").set_value(None).run()
    at.selectbox(key="evals.dataset").set_value("set-a").run()
    at.selectbox(key="evals.recipe").set_value("recipe-1").run()
    assert "10 eval(s) match; page 1 of 1." in at.caption[0].value
    assert not at.exception
    reads = [s for s in seen if s.upper().startswith("SELECT")]
    assert reads
    for sql in reads:  # no read of a whole table: counts, distinct names or limited pages
        if "ttc_eval" in sql and "count(" not in sql and "DISTINCT" not in sql:
            assert "LIMIT" in sql, sql
        assert "recipe_text" not in sql


def test_picked_evals_are_charted_from_their_stored_candidates(app, recorded) -> None:
    url, ids = recorded
    store = RunStore.open(url)
    runs_before = store.count_runs()
    at = app(url, "evals", evals=f"{ids['vote']},{ids['greedy']}")
    assert at.multiselect(key="evals.picked").value == [ids["vote"], ids["greedy"]]
    selectors = at.multiselect(key="evals.scaling.selectors")
    assert selectors.value == [OWN_VOTE]  # the recipes' own selector (greedy votes on one)
    chart = scaling_chart_of(at)
    titles = [panel["title"] for panel in spec_of(chart)["hconcat"]]
    assert titles == ["accuracy vs N", "accuracy vs tokens"]
    rows = chart_values(chart)
    curve = scaling_curve(store, ids["vote"], [OWN_VOTE])
    for c in curve.curves:
        drawn = sorted((r["n"], r["accuracy"], r["tokens"]) for r in rows
                       if r["line"] == f"rotating-vote · {c.selector}")
        assert drawn == sorted((p.n, p.accuracy, p.tokens_per_item) for p in c.points)
    assert [p.n for p in curve.curve(OWN_VOTE).points] == [1, 2, 4, 8]
    assert curve.curve(OWN_VOTE).points[-1].accuracy == pytest.approx(9 / ITEMS)  # the eval's
    (greedy,) = [r for r in rows if r.get("point")]
    assert greedy["line"] == "greedy" and greedy["accuracy"] == pytest.approx(8 / ITEMS)
    assert store.count_runs() == runs_before  # re-selection made no run
    assert not at.exception


def test_curves_are_computed_once_per_eval_and_selectors(app, recorded, monkeypatch) -> None:
    import ttc.ui.scaling_panel as panel

    url, ids = recorded
    calls: list[tuple[str, tuple[str, ...]]] = []

    def counting(store: Any, eval_id: str, selectors: list[str], **kwargs: Any) -> Any:
        calls.append((eval_id, tuple(selectors)))
        return scaling_curve(store, eval_id, selectors, **kwargs)

    monkeypatch.setattr(panel, "scaling_curve", counting)
    at = app(url, "evals", evals=ids["vote"])
    assert calls == [(ids["vote"], (OWN_VOTE,))]
    at.selectbox(key="evals.size").set_value(50).run()  # an unrelated change
    at.switch_page("page_scripts/evals.py").run()  # and a fresh visit
    assert len(calls) == 1
    at.multiselect(key="evals.scaling.selectors").select("borda:p=2").run()
    assert calls[-1] == (ids["vote"], (OWN_VOTE, "borda:p=2"))
    lines = {r["line"] for r in chart_values(scaling_chart_of(at))}
    assert "rotating-vote · borda:p=2" in lines
    assert len(calls) == 2


def test_evals_of_one_recipe_are_told_apart_by_seed(app, recorded) -> None:
    url, ids = recorded
    at = app(url, "evals", evals=f"{ids['vote']},{ids['vote_seed1']}")
    lines = {r["line"] for r in chart_values(scaling_chart_of(at))}
    assert lines == {f"rotating-vote (seed {seed}) · {selector}"
                     for seed in (0, 1) for selector in (OWN_VOTE, "oracle")}
    headers = [SimpleNamespace(id=i, recipe_name="r", seed=0) for i in ("e-1", "e-2")]
    assert line_labels(headers) == {"e-1": "r (e-1)", "e-2": "r (e-2)"}


def test_bad_selectors_and_n_values_are_messages_not_tracebacks(app, recorded) -> None:
    url, ids = recorded
    at = app(url, "evals", evals=ids["vote"])
    selectors = at.multiselect(key="evals.scaling.selectors")
    selectors.set_value([OWN_VOTE, "majorty", "usc"]).run()
    assert any("did you mean 'majority'" in e.value for e in at.error)
    assert any("usc" in w.value and "no model calls" in w.value for w in at.warning)
    at.text_input(key="evals.scaling.ns").set_value("2, x").run()
    assert any("whole numbers" in e.value for e in at.error)
    at.text_input(key="evals.scaling.ns").set_value("2,64").run()
    assert any("above its N_max (8)" in c.value for c in at.caption)
    rows = chart_values(scaling_chart_of(at))
    assert {r["n"] for r in rows if r["line"] == f"rotating-vote · {OWN_VOTE}"} == {2}
    assert not at.exception


def test_paired_comparisons_report_what_compare_computes(app, recorded) -> None:
    url, ids = recorded
    at = app(url, "evals", evals=f"{ids['greedy']},{ids['vote']},{ids['first']},{ids['other']}")
    assert at.selectbox(key="evals.compare.baseline").value == ids["greedy"]
    table = table_with(at, "verdict")
    expected = compare(url, [ids["greedy"], ids["vote"], ids["first"]])
    assert list(table["compared"]) == [f"{c.other} {c.other_name}" for c in expected]
    assert list(table["wins"]) == [c.paired.wins for c in expected]
    assert list(table["losses"]) == [c.paired.losses for c in expected]
    assert list(table["difference"]) == pytest.approx([c.paired.difference for c in expected])
    assert list(table["verdict"]) == [c.verdict for c in expected]
    assert any(ids["other"] in w.value and "share no graded item" in w.value
               for w in at.warning)  # another data set: said, not raised
    (intervals,) = [c for c in charts(at) if "hconcat" not in spec_of(c)]
    drawn = {r["eval"]: (r["low"], r["high"]) for r in chart_values(intervals) if r.get("eval")}
    assert drawn[f"{expected[0].other_name} · {expected[0].other}"] == pytest.approx(
        (expected[0].paired.interval.low, expected[0].paired.interval.high))
    at.selectbox(key="evals.compare.baseline").set_value(ids["vote"]).run()
    table = table_with(at, "verdict")
    assert "37.5%" in at.selectbox(key="evals.compare.baseline").format_func(ids["vote"])
    expected = compare(url, [ids["vote"], ids["greedy"], ids["first"]])
    assert list(table["acc."]) == pytest.approx([c.other_accuracy for c in expected])
    assert list(table["difference"]) == pytest.approx([c.paired.difference for c in expected])
    assert not at.exception


def test_one_pick_asks_for_another_and_unknown_ids_are_warnings(app, recorded) -> None:
    url, ids = recorded
    at = app(url, "evals", evals=f"{ids['vote']},e-nonexistent")
    assert any("no recorded eval 'e-nonexistent'" in w.value for w in at.warning)
    assert at.multiselect(key="evals.picked").value == [ids["vote"]]
    assert any("Pick two or more" in c.value for c in at.caption)
    at.multiselect(key="evals.picked").set_value([]).run()
    assert not charts(at) and not at.exception


def test_a_running_eval_is_listed_and_picked_without_a_summary(app, large) -> None:
    url, _, _ = large
    (running,) = EvalStore(RunStore.open(url)).eval_listings(status="running", limit=5)
    at = app(url, "evals", evals=running.id)
    assert any(running.id in w.value and "no finished, graded items" in w.value
               for w in at.warning)
    assert not at.exception


# --- the eval page ------------------------------------------------------------------------


def test_the_eval_page_summarises_and_lists_items_linked_to_their_runs(app, recorded) -> None:
    url, ids = recorded
    at = app(url, "eval", eval=ids["vote"])
    assert at.title[0].value == f"Eval {ids['vote']}"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["accuracy"] == "37.5%" and metrics["right"] == "9 / 24"
    assert metrics["oracle"] == "100.0%"
    items = table_with(at, "right")
    assert len(items) == ITEMS
    assert list(items["run"]) == [f"run?run=r-{ids['vote'][2:]}-{i:05d}" for i in range(ITEMS)]
    assert items["question"][3] == "question 3"
    at.selectbox(key="eval.outcome").set_value("wrong").run()
    wrong = table_with(at, "right")
    assert len(wrong) == ITEMS - 9 and set(wrong["right"]) == {"✗ wrong"}
    assert all(a != r for a, r in zip(wrong["answer"], wrong["reference"], strict=True))
    assert "15 item(s); page 1 of 1." in " ".join(c.value for c in at.caption)
    run_id = at.selectbox(key=f"eval.open_item.{ids['vote']}").value
    assert run_id == wrong["run"][0].removeprefix("run?run=")
    at.button(key="eval.open_run").click().run()
    assert at.title[0].value == f"Run {run_id}"
    assert not at.exception


def test_the_eval_page_pages_a_large_eval(app, large) -> None:
    url, _, big = large
    seen = statements(url)
    at = app(url, "eval", eval=big)
    assert len(table_with(at, "right")) == 25
    page = next(w for w in at.number_input if w.key.startswith("eval.page"))
    page.set_value(3).run()
    assert list(table_with(at, "right")["#"]) == list(range(50, 75))
    item_reads = [s for s in seen if s.upper().startswith("SELECT") and "ttc_eval_items" in s]
    assert item_reads and all("LIMIT" in s or "count(" in s for s in item_reads)
    assert not at.exception


def test_the_eval_page_tabs_chart_scores_and_recipe(app, recorded) -> None:
    url, ids = recorded
    at = app(url, "eval", eval=ids["vote"])
    assert not charts(at)  # the chart's tab is closed: nothing computed
    at.session_state[TAB_KEY] = "Accuracy vs N and tokens"
    at.run()
    lines = {r["line"] for r in chart_values(scaling_chart_of(at))}
    assert lines == {f"rotating-vote · {OWN_VOTE}", "rotating-vote · oracle"}
    at.session_state[TAB_KEY] = "Candidate scores"
    at.run()
    scores = table_with(at, "AUROC (pooled)")
    assert list(scores["score"]) == ["majority"] and 0 <= scores["AUROC (pooled)"][0] <= 1
    at.session_state[TAB_KEY] = "Recipe"
    at.run()
    assert "name: rotating-vote" in at.code[0].value
    assert not at.exception


def test_unknown_and_running_evals_open_without_errors(app, recorded, large) -> None:
    url, _ = recorded
    at = app(url, "eval", eval="e-nope")
    assert any("no recorded eval 'e-nope'" in w.value for w in at.warning)
    large_url, _, _ = large
    (running,) = EvalStore(RunStore.open(large_url)).eval_listings(status="running", limit=1)
    at = app(large_url, "eval", eval=running.id)
    assert any("No summary yet: 0 of 7 items are graded" in i.value for i in at.info)
    assert list(table_with(at, "right")["run"].isna()) == [True] * 7
    assert not at.exception


def test_chart_and_compare_opens_the_evals_page_with_this_eval_picked(app, recorded) -> None:
    url, ids = recorded
    at = app(url, "eval", eval=ids["first"])
    at.button(key="eval.to_evals").click().run()
    assert at.title[0].value == "Evals"
    assert at.multiselect(key="evals.picked").value == [ids["first"]]
    assert not at.exception


# --- helpers ----------------------------------------------------------------------------


def test_the_recipes_own_selector_becomes_a_spec() -> None:
    assert recipe_selector_spec("select: {use: majority, tie_break: first}") == OWN_VOTE
    assert recipe_selector_spec("select: {use: borda, p: 2}") == "borda:p=2"
    assert recipe_selector_spec("select: {use: mbr, utility: {a: 1}}") == "mbr"
    assert recipe_selector_spec("stages: []") is None
    assert recipe_selector_spec("select: [") is None


def test_n_values_are_parsed_or_refused_with_a_reason() -> None:
    assert parse_ns(" ") is None
    assert parse_ns("4, 1,2 2") == (1, 2, 4)
    with pytest.raises(ValueError, match="whole numbers"):
        parse_ns("1,two")
    with pytest.raises(ValueError, match="start at 1"):
        parse_ns("0,1")


def test_the_app_lists_the_evaluate_section(app, db_url: str, tmp_path: Path) -> None:
    at = app(db_url, "evals")
    assert at.title[0].value == "Evals"
    at.switch_page("page_scripts/eval.py").run()
    assert any("Open an eval from the Evals page" in i.value for i in at.info)
