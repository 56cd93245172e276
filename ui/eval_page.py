"""The eval page: one recorded eval — its summary (accuracy with its 95 % interval, cost per
item, the oracle, how well each candidate score tells right from wrong), its items one page at
a time (``EvalStore.items``: a large eval is never read whole), each linked to the run that
answered it, accuracy against N and tokens from its stored candidates, and its recipe."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ttc.storage import RunNotFound
from ttc.storage.evals import EvalStore
from ttc.ui import scaling_panel
from ttc.ui.eval_listing import dataset_label, pct, score_rows, summary_of
from ttc.ui.settings import current_settings, current_store
from ttc.ui.timestamps import local_time

PAGE_SIZES = [25, 50, 100]
OUTCOMES: dict[str | None, str] = {None: "all", "wrong": "wrong", "right": "right",
                                   "ungraded": "not graded"}
STATUS_COLORS = {"finished": "green", "running": "blue"}
TABS = ["Items", "Accuracy vs N and tokens", "Candidate scores", "Recipe"]
TAB_KEY = "eval.tab"


def requested_eval_id() -> str | None:
    """The eval named in the URL (``?eval=ID``), else one typed on the page."""
    eval_id = st.query_params.get("eval")
    typed = st.text_input("Eval id (or a unique prefix)", value=eval_id or "",
                          key=f"eval.id.{eval_id}")
    if typed.strip() and typed.strip() != eval_id:
        st.query_params["eval"] = typed.strip()
        return typed.strip()
    return eval_id


def render() -> None:
    store = current_store()
    if store is None:
        return
    eval_id = requested_eval_id()
    if not eval_id:
        st.title("Eval page")
        st.info("Open an eval from the Evals page, or type its id above.")
        return
    evals = EvalStore(store)
    try:
        header = evals.get_header(eval_id)
    except RunNotFound as exc:
        st.warning(str(exc))
        return
    _header(evals, header)
    # Lazy tabs: only the open one runs, so opening a big eval never waits for its curves.
    items, chart, scores, recipe = st.tabs(TABS, key=TAB_KEY, on_change="rerun")
    if items.open:
        with items:
            _items(evals, header)
    if chart.open:
        with chart:
            scaling_panel.render(current_settings().db, evals, [header], f"eval.{header.id}")
    if scores.open:
        with scores:
            _scores(header)
    if recipe.open:
        with recipe:
            _recipe(header)


def _header(evals: EvalStore, header: Any) -> None:
    st.title(f"Eval {header.id}")
    color = STATUS_COLORS.get(header.status, "red")
    st.markdown(f"**{header.recipe_name}** on **{dataset_label(header.dataset)}** · seed "
                f"{header.seed} · :{color}[{header.status}] · started "
                f"{local_time(header.started_at)} · {header.items} items")
    summary = summary_of(header)
    if summary is None:
        graded = header.items - evals.count_items(header.id, outcome="ungraded")
        st.info(f"No summary yet: {graded} of {header.items} items are graded. The summary "
                "is written when the eval finishes; `ttc eval` with the same arguments "
                "resumes a stopped eval without repeating its model calls.")
        return
    columns = st.columns(6)
    columns[0].metric("accuracy", pct(summary.accuracy),
                      help="Share of the graded items answered right; below it, its 95 % "
                           "Wilson interval.")
    columns[0].caption(f"95 % interval {pct(summary.interval.low)} – "
                       f"{pct(summary.interval.high)}")
    columns[1].metric("right", f"{summary.correct} / {summary.graded}",
                      help=f"{summary.failed} item(s) failed (counted wrong)")
    columns[2].metric("tokens / item", f"{summary.tokens_per_item:,.0f}",
                      help=f"prompt {summary.prompt_tokens_per_item:,.0f} (cached "
                           f"{summary.cached_tokens_per_item:,.0f}), completion "
                           f"{summary.completion_tokens_per_item:,.0f}")
    columns[3].metric("calls / item", f"{summary.calls_per_item:.1f}")
    columns[4].metric("oracle", pct(summary.oracle),
                      help="Items where some candidate the final selection chose among was "
                           "right: what a perfect selector would reach.")
    columns[5].metric("wall time", f"{summary.wall_time:,.0f} s")
    if summary.status != "finished":
        st.warning(f"Incomplete: {summary.failed} item(s) failed and "
                   f"{summary.items - summary.graded} are not graded. Running `ttc eval` "
                   "again with the same arguments retries them.")
    if st.button("Chart and compare with other evals", key="eval.to_evals"):
        st.switch_page("page_scripts/evals.py", query_params={"evals": header.id})


def _items(evals: EvalStore, header: Any) -> None:
    outcome_column, size_column, page_column, info_column = st.columns(
        [2, 1, 1, 3], vertical_alignment="bottom")
    outcome = outcome_column.selectbox("show", list(OUTCOMES), key="eval.outcome",
                                       format_func=OUTCOMES.__getitem__)
    size = size_column.selectbox("per page", PAGE_SIZES, key="eval.size")
    total = evals.count_items(header.id, outcome=outcome)
    pages = max(1, -(-total // size))
    page = page_column.number_input("page", min_value=1, max_value=pages, value=1, step=1,
                                    key=f"eval.page.{header.id}.{outcome}.{size}")
    info_column.caption(f"{total} item(s); page {page} of {pages}. The run link opens the "
                        "run that answered the item.")
    rows = evals.items(header.id, outcome=outcome, limit=size, offset=(page - 1) * size)
    tasks = evals.run_tasks(r.run_id for r in rows)
    st.dataframe(
        [item_row(r, tasks.get(r.run_id)) for r in rows], hide_index=True, key="eval.items",
        column_config={
            "run": st.column_config.LinkColumn("run", display_text=r"run=(.*)$",
                                               help="Open the run page"),
            "question": st.column_config.TextColumn("question", width="medium"),
        })
    opened = [r for r in rows if r.run_id in tasks]
    if not opened:
        return
    pick_column, open_column = st.columns([3, 1], vertical_alignment="bottom")
    by_run = {r.run_id: r for r in opened}
    run_id = pick_column.selectbox(
        "item", list(by_run), key=f"eval.open_item.{header.id}",
        format_func=lambda i: f"{by_run[i].item_id} · {_mark(by_run[i].correct)} · "
                              f"answer {by_run[i].answer} · run {i}")
    if open_column.button("Open its run", key="eval.open_run"):
        st.switch_page("page_scripts/run.py", query_params={"run": run_id})


def item_row(item: Any, task: Any) -> dict[str, Any]:
    """One item of the table; ``task`` is its run's task (None before the run started)."""
    question = " ".join(question_of(task).split())
    return {
        "#": item.seq,
        "item": item.item_id,
        "run": None if task is None else f"run?run={item.run_id}",
        "right": _mark(item.correct),
        "answer": item.answer,
        "reference": item.reference,
        "question": question[:160] + ("…" if len(question) > 160 else ""),
        "tokens": (item.prompt_tokens or 0) + (item.completion_tokens or 0),
        "calls": item.calls,
        "seconds": round(item.wall_time or 0.0, 2),
        "status": item.status,
    }


def question_of(task: Any) -> str:
    """The prompt, or the last user message of a chat task (as the Runs list shows it)."""
    task = task if isinstance(task, dict) else {}
    for message in reversed(task.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return str(message.get("content", ""))
    return str(task.get("prompt") or "")


def _mark(correct: bool | None) -> str:
    return {True: "✓ right", False: "✗ wrong", None: "– not graded"}[correct]


def _scores(header: Any) -> None:
    summary = summary_of(header)
    if summary is None or not summary.scores:
        st.info("No candidate score varies in this eval's selection pools (or it has no "
                "summary yet).")
        return
    st.caption("How well each score the candidates carry tells right answers from wrong "
               "ones (AUROC: 0.5 is chance, 1 is perfect). Pooled over every candidate; "
               "within item: the mean over items whose candidates are partly right, which "
               "is what a selector choosing within one item can use.")
    st.dataframe(score_rows(summary), hide_index=True, key="eval.scores",
                 column_config={name: st.column_config.NumberColumn(format="%.2f")
                                for name in ("AUROC (pooled)", "AUROC (within item)")})


def _recipe(header: Any) -> None:
    st.code(header.recipe_text, language="yaml")
    if st.button("Open this recipe in the Builder", key="eval.to_builder"):
        from ttc.ui.builder_page import apply_text

        apply_text(header.recipe_text, f"{header.recipe_name}.yaml")
        st.switch_page("page_scripts/builder.py")
