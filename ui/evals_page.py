"""The Evals page: recorded evals, newest first, one page at a time (``EvalStore.eval_listings``
and ``count_evals``: indexed, limited queries, never the whole table), filtered by recipe, data
set and status. The evals picked below the table are drawn as accuracy against N and against
tokens and compared pairwise with a baseline. The pick is kept in the URL (``?evals=ID,ID``),
so a chart can be linked to. An empty store opens on how to record an eval."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st
from sqlalchemy.engine import make_url

from ttc import default_host
from ttc.storage import RunNotFound, RunStore
from ttc.storage.evals import EvalStore
from ttc.ui import comparison_panel, scaling_panel
from ttc.ui.eval_listing import dataset_label, eval_label, listing_row
from ttc.ui.settings import current_settings, current_store

STATUSES = ["finished", "running", "failed"]
PAGE_SIZES = [25, 50, 100]
PICK_KEY = "evals.picked"
URL_SEEN_KEY = "evals.url_seen"
"""The ``?evals=`` value this session last read or wrote: another one came from a link."""
PICK_CHOICES = 200
"""The picker offers the newest evals matching the filters, up to this many."""
MAX_PICKED = 8


@dataclass(frozen=True, slots=True)
class EvalFilters:
    recipe: str | None = None
    dataset: str | None = None
    status: str | None = None

    def query(self) -> dict[str, Any]:
        """Keyword arguments for ``EvalStore.eval_listings`` and ``count_evals``."""
        return {"recipe": self.recipe, "dataset": self.dataset, "status": self.status}


def render() -> None:
    st.title("Evals")
    store = current_store()
    if store is None:
        return
    evals = EvalStore(store)
    if evals.count_evals() == 0:
        first_screen(store)
        return
    filters = _filters(evals)
    total = evals.count_evals(**filters.query())
    size_column, page_column, info_column = st.columns([1, 1, 3], vertical_alignment="bottom")
    size = size_column.selectbox("per page", PAGE_SIZES, key="evals.size")
    pages = max(1, -(-total // size))
    page = page_column.number_input("page", min_value=1, max_value=pages, value=1, step=1,
                                    key=f"evals.page.{hash(filters)}.{size}")
    info_column.caption(f"{total} eval(s) match; page {page} of {pages}. Open one for its "
                        "items and their runs.")
    rows = evals.eval_listings(**filters.query(), limit=size, offset=(page - 1) * size)
    percent = st.column_config.NumberColumn(format="percent")
    st.dataframe(
        [listing_row(r) for r in rows], hide_index=True, key="evals.table",
        column_config={
            "eval": st.column_config.LinkColumn("eval", display_text=r"eval=(.*)$",
                                                help="Open the eval page"),
            "accuracy": percent, "cache hit": percent, "oracle": percent,
        })
    headers = _picked(evals, filters)
    if not headers:
        st.caption("Pick evals above to chart accuracy against N and tokens and to compare "
                   "them item by item.")
        return
    db = current_settings().db
    st.subheader("Accuracy vs N and vs tokens")
    scaling_panel.render(db, evals, headers, "evals.scaling")
    st.subheader("Paired comparison")
    comparison_panel.render(db, evals, headers, "evals.compare")


def _filters(evals: EvalStore) -> EvalFilters:
    recipe_column, dataset_column, status_column = st.columns(3)
    recipe = recipe_column.selectbox("recipe", [None, *evals.recipe_names()],
                                     key="evals.recipe", format_func=_any)
    dataset = dataset_column.selectbox(
        "data set", [None, *evals.datasets()], key="evals.dataset",
        format_func=lambda v: "(any)" if v is None else dataset_label(v))
    status = status_column.selectbox("status", [None, *STATUSES], key="evals.status",
                                     format_func=_any)
    return EvalFilters(recipe, dataset, status)


def _any(value: str | None) -> str:
    return "(any)" if value is None else value


def _picked(evals: EvalStore, filters: EvalFilters) -> list[Any]:
    """The evals to chart and compare (at most ``MAX_PICKED``), read without their items.
    A link's ``?evals=`` wins over the session's pick; the pick is written back to the URL."""
    from_url = st.query_params.get("evals", "")
    if from_url != st.session_state.get(URL_SEEN_KEY, ""):
        st.session_state[PICK_KEY] = _resolve(evals, from_url.split(","))[:MAX_PICKED]
    picked = list(st.session_state.get(PICK_KEY, []))
    choices = {r.id: r for r in evals.eval_listings(ids=picked, limit=MAX_PICKED)}
    choices.update((r.id, r) for r in evals.eval_listings(**filters.query(),
                                                          limit=PICK_CHOICES))
    st.session_state[PICK_KEY] = [i for i in picked if i in choices]
    chosen = st.multiselect(
        "evals to chart and compare", list(choices), key=PICK_KEY,
        format_func=lambda i: eval_label(choices[i]), max_selections=MAX_PICKED,
        placeholder="pick evals (those of one data set compare item by item)",
        help=f"The newest {PICK_CHOICES} evals that match the filters are offered.")
    value = ",".join(chosen)
    if value:
        st.query_params["evals"] = value
    else:
        st.query_params.pop("evals", None)
    st.session_state[URL_SEEN_KEY] = value
    return [evals.get_header(i) for i in chosen]


def _resolve(evals: EvalStore, ids: list[str]) -> list[str]:
    found = []
    for eval_id in (i.strip() for i in ids):
        if not eval_id:
            continue
        try:
            found.append(evals.resolve(eval_id))
        except RunNotFound as exc:
            st.warning(str(exc))
    return list(dict.fromkeys(found))


def first_screen(store: RunStore) -> None:
    """No eval recorded yet: how to record one, and the data sets plugins provide."""
    url = make_url(store.url).render_as_string(hide_password=True)
    st.info(f"No evals are recorded in `{url}` yet. An eval runs a recipe over a data set "
            "(every item a recorded run, every answer graded); this page then charts "
            "accuracy against samples and tokens and compares recipes item by item. Record "
            "one from the command line:")
    st.code(f"ttc eval recipes/best-of-n-majority.yaml --dataset arithmetic-dev --limit 20 "
            f"--db '{url}'", language="bash")
    datasets = default_host().registry.datasets
    if datasets:
        st.markdown("**Data sets** (or any JSONL file with `prompt` and `reference`)")
        st.dataframe([{"data set": name, "items": e.obj.size,
                       "graded as": e.obj.answer_format or "per item",
                       "what it measures": e.obj.description}
                      for name, e in sorted(datasets.items())],
                     hide_index=True, key="evals.datasets",
                     column_config={"what it measures": st.column_config.TextColumn(
                         width="large")})
