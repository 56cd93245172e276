"""The run page: one recorded run — its candidate lineage graph, candidates with answers,
scores, critiques and verdicts, per-token certainty, every model call and the ledger per
stage and round. Everything shown is read from the run store (``RunStore.get_run``)."""

from __future__ import annotations

import json
import logging
from typing import Any

import streamlit as st

from ttc import Pipeline
from ttc.background_loop import run_sync
from ttc.runtime import Detokenizer
from ttc.storage import RunNotFound, RunStore
from ttc.ui import certainty as cert
from ttc.ui.ledger import ledger_rows
from ttc.ui.lineage import build_lineage, lineage_chart
from ttc.ui.model_calls import call_label, call_rows, parameters, prompts, responses
from ttc.ui.rederive import rederive
from ttc.ui.settings import current_store
from ttc.ui.timestamps import local_time

logger = logging.getLogger(__name__)

STATUS_COLORS = {"succeeded": "green", "budget_exhausted": "orange", "running": "blue"}


def requested_run_id(key: str) -> str | None:
    """The run named in the URL (``?run=ID``), else one typed on the page."""
    run_id = st.query_params.get("run")
    typed = st.text_input("Run id (or a unique prefix)", value=run_id or "",
                          key=f"{key}.{run_id}")
    if typed.strip() and typed.strip() != run_id:
        st.query_params["run"] = typed.strip()
        return typed.strip()
    return run_id


def load_run(store: RunStore, run_id: str) -> Any | None:
    """The run with its children, or None after saying why not."""
    try:
        return store.get_run(run_id)
    except RunNotFound as exc:
        st.warning(str(exc))
        return None


def render() -> None:
    store = current_store()
    if store is None:
        return
    run_id = requested_run_id("run.id")
    if not run_id:
        st.title("Run page")
        st.info("Open a run from the Runs page, or type its id above.")
        return
    run = load_run(store, run_id)
    if run is None:
        return
    _header(run, store)
    tabs = st.tabs(["Lineage", "Candidates", "Certainty", "Model calls", "Ledger", "Recipe"])
    with tabs[0]:
        _lineage(run)
    with tabs[1]:
        _candidates(run)
    with tabs[2]:
        _certainty(run)
    with tabs[3]:
        _calls(run)
    with tabs[4]:
        _ledger(run)
    with tabs[5]:
        _recipe(run)


def _header(run: Any, store: RunStore) -> None:
    st.title(f"Run {run.id}")
    color = STATUS_COLORS.get(run.status, "red")
    st.markdown(f"**{run.recipe_name}** · :{color}[{run.status}] · started "
                f"{local_time(run.started_at)} · seed {run.seed}"
                + (f" · replay of `{run.replay_of}`" if run.replay_of else ""))
    question = (run.task or {}).get("prompt") or json.dumps((run.task or {}).get("messages"))
    st.markdown("**Question**")
    st.text(question)
    columns = st.columns(6)
    columns[0].metric("answer", "—" if run.answer is None else str(run.answer))
    columns[1].metric("candidates", len(run.candidates))
    columns[2].metric("model calls", len(run.model_calls))
    columns[3].metric("completion tokens", run.completion_tokens)
    columns[4].metric("cached prompt tokens", f"{run.cached_tokens} / {run.prompt_tokens}")
    columns[5].metric("wall time", "—" if run.wall_time is None else f"{run.wall_time:.2f} s")
    if run.error:
        st.error(run.error)
    left, middle, right = st.columns([2, 2, 6])
    if left.button("What-if: re-select…", key="run.whatif"):
        st.switch_page("page_scripts/whatif.py", query_params={"run": run.id})
    if run.replay_of and middle.button("Open the replayed run", key="run.source"):
        st.switch_page("page_scripts/run.py", query_params={"run": run.replay_of})
    right.download_button("Export JSON", key="run.export",
                          data=json.dumps(store.export_run(run.id), indent=1, default=str),
                          file_name=f"{run.id}.json", mime="application/json")


# --- lineage and candidates --------------------------------------------------------------


def _lineage(run: Any) -> None:
    if not run.candidates:
        st.info("This run recorded no candidates.")
        return
    lineage = build_lineage(run)
    ids = [n.id for n in lineage.nodes]
    select_key = f"run.candidate.{run.id}"
    clicked_key = f"run.clicked.{run.id}"
    event = st.session_state.get(f"run.lineage.{run.id}")
    clicked = _clicked_node(event)
    if clicked in ids and clicked != st.session_state.get(clicked_key):
        st.session_state[clicked_key] = clicked
        st.session_state[select_key] = clicked
    default = run.winner_id if run.winner_id in ids else ids[0]
    selected = st.session_state.get(select_key, default)
    st.caption("Stages run left to right; each dot is a candidate, each line joins it to a "
               "parent. The winner and its ancestors are highlighted. Click a dot to see it.")
    st.altair_chart(lineage_chart(lineage, selected), on_select="rerun",
                    selection_mode="node", key=f"run.lineage.{run.id}")
    choice = st.selectbox("candidate", ids, index=ids.index(selected) if selected in ids else 0,
                          key=select_key, format_func=lambda cid: _candidate_label(run, cid))
    by_id = {c.id: c for c in run.candidates}
    candidate_card(run, by_id[choice])


def _clicked_node(event: Any) -> str | None:
    try:
        points = event["selection"]["node"]
    except (KeyError, TypeError):
        return None
    if points and isinstance(points[0], dict):
        return points[0].get("id")
    return None


def _candidate_label(run: Any, cid: str) -> str:
    candidate = next(c for c in run.candidates if c.id == cid)
    mark = "★ " if cid == run.winner_id else ""
    return f"{mark}{cid} · {candidate.stage} · answer {candidate.answer}"


def candidate_card(run: Any, candidate: Any) -> None:
    """One candidate: where it came from, its text, answer, scores, and the critiques and
    verdicts written about it (stored on the candidate they belong to)."""
    winner = " ★ winner" if candidate.id == run.winner_id else ""
    origin = candidate.origin or {}
    st.markdown(f"#### `{candidate.id}`{winner}")
    st.markdown(
        f"stage `{candidate.stage}`" + (f" round {origin['round']}" if origin.get("round")
                                        else "")
        + f" · component `{candidate.component}` · model `{candidate.model or '—'}` · "
        f"finish `{candidate.finish_reason or '—'}` · parents "
        + (", ".join(f"`{p}`" for p in candidate.parents) if candidate.parents else "none"))
    st.markdown(f"**Answer:** {candidate.answer if candidate.answer is not None else '—'}")
    st.code(candidate.text, language=None, wrap_lines=True)
    if candidate.scores:
        st.markdown("**Scores and verdicts**")
        st.dataframe([{"score": k, "value": v} for k, v in candidate.scores.items()],
                     hide_index=True)
    if candidate.feedback:
        st.markdown("**Critiques and feedback on this candidate**")
        for author, text in candidate.feedback.items():
            st.markdown(f"*{author}*")
            st.code(str(text), language=None, wrap_lines=True)


def _candidates(run: Any) -> None:
    rows = [{
        "winner": "★" if c.id == run.winner_id else "",
        "id": c.id, "stage": c.stage, "round": (c.origin or {}).get("round") or None,
        "component": c.component, "answer": c.answer,
        "scores": ", ".join(f"{k}={v:.3g}" for k, v in (c.scores or {}).items()),
        "critiques": len(c.feedback or {}),
        "tokens": len((c.tokens or {}).get("ids") or []),
        "parents": ", ".join(c.parents or []),
    } for c in sorted(run.candidates, key=lambda c: c.seq)]
    st.dataframe(rows, hide_index=True)
    shown = sorted(run.candidates, key=lambda c: c.seq)[:100]
    if len(run.candidates) > len(shown):
        st.caption(f"Details of the first {len(shown)} of {len(run.candidates)} candidates; "
                   "pick any one on the Lineage tab.")
    for candidate in shown:
        with st.expander(_candidate_label(run, candidate.id)):
            candidate_card(run, candidate)


# --- certainty ---------------------------------------------------------------------------


def _certainty(run: Any) -> None:
    with_tokens = [c for c in sorted(run.candidates, key=lambda c: c.seq)
                   if (c.tokens or {}).get("ids")]
    if not with_tokens:
        st.info("No candidate of this run has recorded token statistics.")
        return
    ids = [c.id for c in with_tokens]
    default = ids.index(run.winner_id) if run.winner_id in ids else 0
    left, right = st.columns([3, 2])
    chosen = left.selectbox("candidate", ids, index=default, key=f"run.cert.{run.id}",
                            format_func=lambda cid: _candidate_label(run, cid))
    metric_label = right.radio("metric", [m.label for m in cert.METRICS], horizontal=True,
                               key="run.cert.metric")
    metric = next(m for m in cert.METRICS if m.label == metric_label)
    candidate = next(c for c in with_tokens if c.id == chosen)
    tokens = candidate.tokens
    values = cert.metric_values(tokens, metric)
    if values is None:
        st.info(f"The runtime did not record {metric.label} for this candidate "
                f"({tokens.get('runtime') or 'unknown runtime'}).")
        return
    pieces = token_text(run, candidate)
    if pieces is None:
        st.caption("This runtime cannot turn token ids back into text: tokens are shown "
                   "by id.")
        pieces = [f"[{i}]" for i in tokens["ids"]]
    st.caption(f"{metric.label}: {metric.meaning}. Darker red = less sure (relative to this "
               "text); hover a token for its value; the least sure token is outlined."
               + ("" if tokens.get("exact", True) else " Approximate (from top-k)."))
    st.html(cert.heat_map_html(pieces, values, metric))
    lowest = cert.least_sure(values, metric.higher_is_surer)
    if lowest is not None:
        mean = sum(values) / len(values)
        st.markdown(f"Least sure: token #{lowest} `{pieces[lowest]!r}` ({metric.label} "
                    f"{values[lowest]:.4g}); mean over {len(values)} tokens {mean:.4g}.")
    st.line_chart({metric.label: values}, height=160, x_label="token", y_label=metric.label)


def token_text(run: Any, candidate: Any) -> list[str] | None:
    """Each token's text, decoded by the recipe's runtime for this candidate's model; None
    when that runtime cannot decode (remote runtimes) or cannot be opened."""
    cache = st.session_state.setdefault("run.token_text", {})
    key = (run.id, candidate.id)
    if key not in cache:
        cache[key] = _decode(run, candidate)
    return cache[key]


def _decode(run: Any, candidate: Any) -> list[str] | None:
    ids = (candidate.tokens or {}).get("ids") or []
    try:
        pipeline = Pipeline.from_text(run.recipe_text, f"<{run.id}>", store=False)
        binding = pipeline.plan.models.get(candidate.model)
        if binding is None:
            return None
        if not issubclass(pipeline.host.registry.runtime(binding.runtime), Detokenizer):
            return None
        with st.spinner(f"Opening the {binding.runtime} runtime to decode tokens…"):
            runtime = pipeline.runtime(candidate.model)
            if not isinstance(runtime, Detokenizer):
                return None
            return cert.token_pieces(lambda part: run_sync(runtime.detokenize(part)), ids)
    except Exception as exc:  # a recipe or runtime that cannot open: show ids instead
        logger.info("cannot decode the tokens of %s: %s", candidate.id, exc)
        return None


# --- model calls and ledger --------------------------------------------------------------


def _calls(run: Any) -> None:
    calls = sorted(run.model_calls, key=lambda c: c.seq)
    if not calls:
        st.info("This run made no model calls.")
        return
    failed = [c for c in calls if c.error]
    replayed = sum(c.replayed for c in calls)
    st.markdown(f"{len(calls)} call(s): {len(calls) - replayed} made, {replayed} served from "
                f"a recording, **{len(failed)} failed**.")
    st.dataframe(call_rows(run), hide_index=True,
                 column_config={"failure": st.column_config.TextColumn(width="large")})
    by_label = {call_label(c): c for c in calls}
    label = st.selectbox("call", list(by_label), key=f"run.call.{run.id}")
    call = by_label[label]
    if call.error:
        st.error(f"failed: {call.error}")
    left, right = st.columns(2)
    with left:
        st.markdown("**Prompt**")
        for text in prompts(call):
            st.code(text, language=None, wrap_lines=True)
        st.markdown("**Parameters**")
        st.json(parameters(call), expanded=False)
    with right:
        st.markdown("**Response**")
        for i, item in enumerate(responses(call)):
            if "text" in item:
                st.caption(f"completion {i}: {item.get('tokens')} tokens, finish "
                           f"{item.get('finish_reason')}, cached prompt tokens "
                           f"{item.get('cached_tokens')}")
                st.code(str(item["text"]), language=None, wrap_lines=True)
            else:
                st.json(item, expanded=False)
    _parse_failures(run)


def _parse_failures(run: Any) -> None:
    st.markdown("**Parse failures**")
    st.caption("Replies a component could not read (and re-asked, or went on without) are "
               "kept in the run's artifacts, which the store does not record. Re-derive them "
               "by replaying this run's recorded calls in memory: no model call is made and "
               "nothing is stored (the recipe's runtimes are opened to render prompts).")
    key = f"run.rederived.{run.id}"
    if st.button("Re-derive parse failures", key=f"run.rederive.{run.id}"):
        with st.spinner("Replaying the recorded calls in memory…"):
            try:
                st.session_state[key] = rederive(run)
            except Exception as exc:  # a recipe or runtime that cannot open: say so
                st.session_state[key] = f"{type(exc).__name__}: {exc}"
    found = st.session_state.get(key)
    if found is None:
        return
    if isinstance(found, str):
        st.warning(f"Cannot re-derive this run: {found}")
        return
    if not found.same_as_recorded:
        st.warning("The re-derived run does not end with the recorded winner and answer "
                   "(the components changed since it ran); what follows may differ from it.")
    failures = found.parse_failures
    if failures:
        st.error(f"{len(failures)} parse failure(s):")
        st.dataframe(failures, hide_index=True,
                     column_config={"reply": st.column_config.TextColumn(width="large")})
    else:
        st.success("No parse failures.")
    if found.other_artifacts:
        st.markdown("Other artifacts of the run")
        st.json(found.other_artifacts, expanded=False)


def _ledger(run: Any) -> None:
    st.caption("Per stage and per repeat round, from the recorded stage rows (a round's "
               "usage is its stage meter minus the previous round's); `calls_recorded` "
               "counts the model-call rows stored for the stage over all its rounds.")
    st.dataframe(ledger_rows(run), hide_index=True)


def _recipe(run: Any) -> None:
    st.code(run.recipe_text, language="yaml")
    if st.button("Open this recipe in the Builder", key="run.to_builder"):
        from ttc.ui.builder_page import apply_text

        apply_text(run.recipe_text, f"{run.recipe_name}.yaml")
        st.switch_page("page_scripts/builder.py")
