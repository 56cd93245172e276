"""The Runs page: recorded runs, newest first, filtered by recipe, status, date and text,
one page at a time (``RunStore.run_summaries`` + ``count_runs``: indexed queries, never the
whole table). An empty store gets a first screen that runs the demo recipe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import streamlit as st
from sqlalchemy.engine import make_url

from ttc.storage import RunStore
from ttc.ui.builder_page import LAST_RUN_KEY, run_recipe
from ttc.ui.settings import current_store
from ttc.ui.shipped_recipes import DEMO_QUESTION, demo_recipe
from ttc.ui.timestamps import day_start, local_time

STATUSES = ["succeeded", "failed", "budget_exhausted", "running"]
PAGE_SIZES = [25, 50, 100]


@dataclass(frozen=True, slots=True)
class RunFilters:
    recipe: str | None = None
    status: str | None = None
    since: date | None = None
    until: date | None = None
    """Inclusive: runs started on this day are shown."""
    text: str | None = None

    def query(self) -> dict[str, Any]:
        """Keyword arguments for ``RunStore.run_summaries`` and ``count_runs``."""
        return {
            "recipe": self.recipe, "status": self.status, "text": self.text or None,
            "since": None if self.since is None else day_start(self.since),
            "until": None if self.until is None else day_start(self.until + timedelta(days=1)),
        }


def render() -> None:
    st.title("Runs")
    store = current_store()
    if store is None:
        return
    if store.count_runs() == 0:
        first_screen(store)
        return
    filters = _filters(store)
    total = store.count_runs(**filters.query())
    size_column, page_column, info_column = st.columns([1, 1, 3], vertical_alignment="bottom")
    size = size_column.selectbox("per page", PAGE_SIZES, key="runs.size")
    pages = max(1, -(-total // size))
    page = page_column.number_input("page", min_value=1, max_value=pages, value=1, step=1,
                                    key=f"runs.page.{hash(filters)}.{size}")
    info_column.caption(f"{total} run(s) match; page {page} of {pages}.")
    rows = store.run_summaries(**filters.query(), limit=size, offset=(page - 1) * size)
    st.dataframe(
        [_row(r) for r in rows], hide_index=True, key="runs.table",
        column_config={
            "run": st.column_config.LinkColumn("run", display_text=r"run=(.*)$",
                                               help="Open the run page"),
            "question": st.column_config.TextColumn("question", width="large"),
            "answer": st.column_config.TextColumn("answer", width="small"),
        })


def _row(run: Any) -> dict[str, Any]:
    question = " ".join(run.question.split())
    return {
        "run": f"run?run={run.id}",
        "started": local_time(run.started_at),
        "recipe": run.recipe_name,
        "status": run.status + (" (replay)" if run.replay_of else ""),
        "question": question[:160] + ("…" if len(question) > 160 else ""),
        "answer": run.answer,
        "calls": run.calls,
        "tokens": run.completion_tokens,
        "seconds": None if run.wall_time is None else round(run.wall_time, 2),
    }


def _filters(store: RunStore) -> RunFilters:
    recipe_column, status_column, since_column, until_column, text_column = st.columns(
        [2, 2, 2, 2, 3])
    recipe = recipe_column.selectbox("recipe", [None, *store.recipe_names()],
                                     key="runs.recipe",
                                     format_func=lambda v: "(any)" if v is None else v)
    status = status_column.selectbox("status", [None, *STATUSES], key="runs.status",
                                     format_func=lambda v: "(any)" if v is None else v)
    since = since_column.date_input("started from", value=None, key="runs.since",
                                    format="YYYY-MM-DD")
    until = until_column.date_input("started until (incl.)", value=None, key="runs.until",
                                    format="YYYY-MM-DD")
    text = text_column.text_input("question or answer contains", key="runs.text")
    return RunFilters(recipe, status, since, until, text.strip() or None)


def first_screen(store: RunStore) -> None:
    """No run recorded yet: run the demo recipe on the embedded model, or go build one."""
    shown = make_url(store.url).render_as_string(hide_password=True)
    st.info(f"No runs are recorded in `{shown}` yet. Run the demo recipe — eight answers "
            "from the embedded CPU model and a majority vote — or compose a recipe in the "
            "Builder.")
    demo = demo_recipe()
    if demo is None:
        st.page_link("page_scripts/builder.py", label="Open the Builder",
                     icon=":material/construction:")
        return
    st.code(demo.read_text(encoding="utf-8"), language="yaml")
    question = st.text_input("Question", value=DEMO_QUESTION, key="runs.demo_question")
    if st.button("Run the demo recipe", key="runs.demo", type="primary",
                 disabled=not question.strip()):
        run_recipe(demo.read_text(encoding="utf-8"), demo.name, question.strip(), store)
    last = st.session_state.get(LAST_RUN_KEY)
    if last and st.button(f"Open run {last['run_id']}", key="runs.demo_open"):
        st.switch_page("page_scripts/run.py", query_params={"run": last["run_id"]})
    st.page_link("page_scripts/builder.py", label="Or compose a recipe in the Builder",
                 icon=":material/construction:")
