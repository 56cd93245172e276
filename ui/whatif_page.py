"""The What-if page: re-select a stored run with another selector or other parameters
through replay, and show the old and new winners side by side.

The change is first replayed strictly (``replay(..., strict=True)``): recorded calls are
served and none can reach a model. When that succeeds the change needed zero model calls and
its result is shown at once; when it does not, the page lists the calls the recording lacks
and makes them only when asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st
import yaml

from ttc import TTCError, default_host
from ttc.storage import ReplayMiss, RunStore
from ttc.storage.replay import replay
from ttc.ui import recipe_draft as rd
from ttc.ui.catalogue import selectors
from ttc.ui.forms import render_form
from ttc.ui.run_page import load_run, requested_run_id
from ttc.ui.settings import current_store
from ttc.ui.validation import recipe_issues, validate_output

OUTCOME_KEY = "whatif.outcome"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the last what-if did, for one (run, recipe text)."""

    source: str
    recipe_text: str
    new_run: str | None = None
    served: int = 0
    made: int = 0
    missing: tuple[str, ...] = ()
    error: str | None = None


def reselected_recipe(recipe_text: str, select: dict[str, Any]) -> str:
    """The recorded recipe with another final ``select:`` (everything else as recorded,
    ``source:`` block included)."""
    draft = rd.load_draft(recipe_text)
    draft.data["select"] = select
    return rd.to_yaml(draft)


def try_change(store: RunStore, run_id: str, recipe_text: str, *, allow_calls: bool) -> Outcome:
    """Replay ``run_id`` with ``recipe_text``: strictly (no model call can happen) unless
    ``allow_calls``. A strict replay that needs calls reports them and leaves nothing."""
    try:
        report = replay(store, run_id, recipe_text=recipe_text, source="<what-if>",
                        strict=not allow_calls)
    except ReplayMiss as miss:
        return Outcome(run_id, recipe_text, missing=tuple(miss.missing))
    except TTCError as exc:
        return Outcome(run_id, recipe_text, error=str(exc))
    return Outcome(run_id, recipe_text, report.result.run_id, report.served, report.made)


def render() -> None:
    st.title("What-if")
    store = current_store()
    if store is None:
        return
    run_id = requested_run_id("whatif.id")
    if not run_id:
        st.info("Pick a run (its id above, or the What-if button on a run page) to re-select "
                "its candidates with another selector or other parameters.")
        return
    run = load_run(store, run_id)
    if run is None:
        return
    st.markdown(f"Run `{run.id}` of **{run.recipe_name}**: answer **{run.answer}** "
                f"(winner `{run.winner_id}`). Change the final selection below; the run's "
                "recorded model calls are re-used, so a change of selector alone makes none.")
    text = _change(run)
    if text is None:
        return
    issues = recipe_issues(text, "<what-if>")
    if issues:
        st.error("The changed recipe is not valid:")
        st.code(validate_output(issues, "<what-if>"), language=None)
        return
    outcome = st.session_state.get(OUTCOME_KEY)
    if outcome is not None and (outcome.source != run.id or outcome.recipe_text != text):
        outcome = None
    if st.button("Re-select", key="whatif.go", type="primary"):
        with st.spinner("Replaying the recorded calls…"):
            outcome = try_change(store, run.id, text, allow_calls=False)
        st.session_state[OUTCOME_KEY] = outcome
    if outcome is None:
        return
    if outcome.error:
        st.error(outcome.error)
        return
    if outcome.missing:
        st.warning(f"This change needs at least {len(outcome.missing)} model call(s) the "
                   "recording does not have (calls after them depend on their replies, so "
                   "more may follow). Nothing was run or stored:")
        st.code("\n".join(outcome.missing), language=None)
        if st.button(f"Make the calls ({len(outcome.missing)}+) and re-run",
                     key="whatif.make_calls"):
            with st.spinner("Replaying, and calling the model for what is missing…"):
                outcome = try_change(store, run.id, text, allow_calls=True)
            st.session_state[OUTCOME_KEY] = outcome
        if outcome.missing or outcome.new_run is None:
            return
    _side_by_side(store, run, outcome)


def _change(run: Any) -> str | None:
    """The changed recipe text, from the selector form or the YAML editor."""
    registry = default_host().registry
    try:
        draft = rd.load_draft(run.recipe_text)
    except (yaml.YAMLError, rd.NotAMapping):
        st.error("The recorded recipe text cannot be read back.")
        return None
    recorded = draft.data.get("select")
    current = recorded.get("use") if isinstance(recorded, dict) else recorded
    mode = st.radio("change", ["selector", "whole recipe (YAML)"], horizontal=True,
                    key="whatif.mode")
    if mode != "selector":
        return st.text_area("recipe", value=run.recipe_text, height=360,
                            key=f"whatif.text.{run.id}")
    names = selectors(registry)
    index = names.index(current) if current in names else 0
    chosen = st.selectbox("selector", names, index=index, key=f"whatif.selector.{run.id}")
    params_key = f"whatif.params.{run.id}.{chosen}"
    if params_key not in st.session_state:
        st.session_state[params_key] = (
            dict(recorded) if isinstance(recorded, dict) and current == chosen
            else {"use": chosen})
    params = st.session_state[params_key]
    cls = registry.component(chosen)
    doc = (cls.__doc__ or "").strip().splitlines()
    if doc:
        st.caption(doc[0])
    render_form(cls.Config, params, f"whatif.form.{run.id}.{chosen}")
    return reselected_recipe(run.recipe_text, dict(params))


def _side_by_side(store: RunStore, run: Any, outcome: Outcome) -> None:
    new = store.get_run(outcome.new_run) if outcome.new_run else None
    calls = "no model call" if outcome.made == 0 else f"{outcome.made} model call(s)"
    st.success(f"Re-selected with {calls}; {outcome.served} call(s) served from the "
               f"recording. The what-if run is stored as `{outcome.new_run}`.")
    left, right = st.columns(2)
    with left:
        _winner_panel("Recorded", run)
    with right:
        if new is not None:
            _winner_panel("What-if", new)
            if st.button("Open the what-if run", key="whatif.open"):
                st.switch_page("page_scripts/run.py", query_params={"run": new.id})


def _winner_panel(title: str, run: Any) -> None:
    select = (yaml.safe_load(run.recipe_text) or {}).get("select")
    winner = next((c for c in run.candidates if c.id == run.winner_id), None)
    st.subheader(title)
    st.markdown(f"run `{run.id}` · selector `{select}` · status {run.status}")
    st.metric("answer", "—" if run.answer is None else str(run.answer))
    if winner is None:
        st.info("No winner.")
        return
    st.markdown(f"winner `{winner.id}` (stage `{winner.stage}`)")
    st.code(winner.text, language=None, wrap_lines=True)
    scores = (run.selection or {}).get("scores") or {}
    name = (run.selection or {}).get("score_name") or "score"
    if scores:
        st.dataframe([{"candidate": cid, name: value, "winner": "★" if cid == winner.id else ""}
                      for cid, value in scores.items()], hide_index=True)
