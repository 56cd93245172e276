"""Accuracy against N and against tokens per item for stored evals.

``scaling_curve`` re-selects each eval's stored candidates (no model call) and
``scaling_chart`` draws the result: the very Altair spec ``ttc scaling --plot x.html`` writes.
An eval with one candidate per item (e.g. greedy) is drawn as its summary's point. A curve
takes seconds on a big eval, so each is cached per (store, eval and its progress, selectors,
N values, subsets).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import streamlit as st
import yaml

from ttc import TTCError, default_host
from ttc.plugins.evaluation.plots import chart_rows, scaling_chart
from ttc.plugins.evaluation.results import EvalSummary
from ttc.plugins.evaluation.scaling import ScalingCurve, scaling_curve
from ttc.plugins.evaluation.selector_spec import parse_selector
from ttc.storage.evals import EvalStore
from ttc.ui.catalogue import selectors
from ttc.ui.eval_listing import dataset_label, eval_version, summary_of
from ttc.ui.settings import open_store

logger = logging.getLogger(__name__)

DEFAULT_SELECTOR = "majority"
MAX_SUBSETS = 1000
PROBE = (1,)
"""N values of the cheap curve that finds an eval's N_max before the N values asked for."""


@dataclass(frozen=True, slots=True)
class CurveOutcome:
    curve: ScalingCurve | None
    error: str | None = None


@st.cache_data(show_spinner=False, max_entries=256)
def compute_curve(db: str | None, eval_id: str, version: str, specs: tuple[str, ...],
                  ns: tuple[int, ...] | None, subsets: int) -> CurveOutcome:
    """``scaling_curve`` for one eval, or why it cannot be drawn. ``version`` is only part of
    the cache key: it changes when the eval gains graded items."""
    try:
        curve = scaling_curve(open_store(db), eval_id, list(specs),
                              ns=None if ns is None else list(ns), subsets=subsets)
    except TTCError as exc:
        return CurveOutcome(None, str(exc))
    except Exception as exc:  # a stored recipe whose plugins are gone, a row it cannot read
        logger.exception("scaling curve of %s", eval_id)
        return CurveOutcome(None, f"{type(exc).__name__}: {exc}")
    return CurveOutcome(curve)


def recipe_selector_spec(recipe_text: str) -> str | None:
    """The recipe's own final selector as a spec (``NAME:param=value,…``), so its curve ends
    at the eval's recorded accuracy; only the name when a parameter cannot be written so."""
    try:
        data = yaml.safe_load(recipe_text)
    except yaml.YAMLError:
        return None
    select = data.get("select") if isinstance(data, dict) else None
    if not isinstance(select, dict) or not isinstance(select.get("use"), str):
        return None
    parts = []
    for name, value in select.items():
        if name in {"use", "model"}:
            continue
        text = _spec_value(value)
        if text is None:
            return select["use"]
        parts.append(f"{name}={text}")
    return select["use"] + (":" + ",".join(parts) if parts else "")


def _spec_value(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str) and value and not set(value) & set(",=:#'\"{}[]") \
            and yaml.safe_load(value) == value:
        return value
    return None


def parse_ns(text: str) -> tuple[int, ...] | None:
    """``"1,2,4"`` → (1, 2, 4); blank → None (powers of two up to N_max). ValueError with a
    readable message otherwise."""
    parts = [p.strip() for p in text.replace(" ", ",").split(",") if p.strip()]
    if not parts:
        return None
    try:
        values = sorted({int(p) for p in parts})
    except ValueError:
        raise ValueError(f"N values {text!r}: give whole numbers separated by commas, "
                         "e.g. 1,2,4,8") from None
    if values[0] < 1:
        raise ValueError("N values start at 1")
    return tuple(values)


def model_free_selectors() -> list[str]:
    """Selectors that can re-select stored candidates (those that call a model cannot)."""
    registry = default_host().registry
    return [name for name in selectors(registry)
            if not registry.components[name].obj.uses_model]


def render(db: str | None, evals: EvalStore, headers: Sequence[Any], key: str) -> None:
    """The controls, the chart and its values for these evals (rows without items)."""
    if not headers:
        return
    specs, ns, subsets = _controls(headers, key)
    if not specs:
        st.info("Pick at least one selector to draw.")
        return
    curves: list[ScalingCurve] = []
    points: list[EvalSummary] = []
    labels = line_labels(headers)
    with st.spinner("Re-selecting the stored candidates (no model call)…"):
        for header in headers:
            _add(db, evals, header, labels[header.id], specs, ns, subsets, curves, points)
    if not curves and not points:
        return
    st.altair_chart(scaling_chart(curves, points))
    st.caption("Each line re-selects subsets of the N candidates every item stored (the shaded "
               "band: ± the spread over subsets); the oracle (dashed) counts an item right "
               "when any candidate in the subset is. Diamonds are evals drawn as their "
               "summary (one candidate per item) with their 95 % interval.")
    with st.expander("Values"):
        st.dataframe([_value_row(r) for r in chart_rows(curves, points)], hide_index=True,
                     key=f"{key}.values",
                     column_config={"accuracy": st.column_config.NumberColumn(format="percent"),
                                    "± spread": st.column_config.NumberColumn(format="percent")})


def _controls(headers: Sequence[Any], key: str
              ) -> tuple[tuple[str, ...], tuple[int, ...] | None, int]:
    registry = default_host().registry
    options = model_free_selectors()
    own = [s for s in (recipe_selector_spec(h.recipe_text) for h in headers) if s]
    default = list(dict.fromkeys(s for s in own if _usable(s, registry))) or [DEFAULT_SELECTOR]
    options += [s for s in default if s not in options]
    left, middle, right = st.columns([4, 2, 1], vertical_alignment="bottom")
    picked = left.multiselect(
        "selectors (type NAME:param=value to add one)", options, default=default,
        accept_new_options=True, key=f"{key}.selectors",
        help="Each selector re-selects the stored candidates; selectors that call a model "
             "cannot (they are not listed).")
    ns_text = middle.text_input("N values", key=f"{key}.ns", placeholder="1,2,4,… up to N_max")
    subsets = right.number_input("subsets", min_value=1, max_value=MAX_SUBSETS, value=64,
                                 step=16, key=f"{key}.subsets",
                                 help="Subsets of N candidates drawn per item (every subset "
                                      "when there are at most this many).")
    specs = []
    for spec in picked:
        try:
            parse_selector(spec, registry)
        except TTCError as exc:
            st.error(str(exc))
            continue
        specs.append(spec.strip())
    try:
        ns = parse_ns(ns_text)
    except ValueError as exc:
        st.error(str(exc))
        ns = None
    return tuple(dict.fromkeys(specs)), ns, int(subsets)


def _usable(spec: str, registry: Any) -> bool:
    try:
        return not parse_selector(spec, registry).selector.uses_model
    except TTCError:
        return False


def line_labels(headers: Sequence[Any]) -> dict[str, str]:
    """How the chart names each eval: its recipe, with the seed when two picked evals share
    the recipe, and the eval id when that is not enough (the chart's lines are named by it,
    so two evals of one recipe would otherwise merge into one line)."""
    labels = {}
    for header in headers:
        same = [h for h in headers if h.recipe_name == header.recipe_name]
        if len(same) == 1:
            labels[header.id] = header.recipe_name
        elif len({h.seed for h in same}) == len(same):
            labels[header.id] = f"{header.recipe_name} (seed {header.seed})"
        else:
            labels[header.id] = f"{header.recipe_name} ({header.id})"
    return labels


def _add(db: str | None, evals: EvalStore, header: Any, label: str, specs: tuple[str, ...],
         ns: tuple[int, ...] | None, subsets: int, curves: list[ScalingCurve],
         points: list[EvalSummary]) -> None:
    """The eval's curve, or its summary as a point when it has one candidate per item."""
    version = eval_version(evals, header)
    name = f"{header.id} ({header.recipe_name} on {dataset_label(header.dataset)})"
    if ns is not None:
        probe = compute_curve(db, header.id, version, specs[:1], PROBE, 1)
        if probe.curve is not None:
            kept = tuple(n for n in ns if n <= probe.curve.n_max)
            if len(kept) < len(ns):
                st.caption(f"{name}: N values above its N_max ({probe.curve.n_max}) are left "
                           "out.")
            ns = kept or (probe.curve.n_max,)
    outcome = compute_curve(db, header.id, version, specs, ns, subsets)
    summary = summary_of(header)
    if outcome.curve is None or outcome.curve.n_max == 1:
        if summary is not None:
            points.append(replace(summary, recipe=label))
            if outcome.error:
                st.caption(f"{name} is drawn as its summary: {outcome.error}")
        elif outcome.error:
            st.warning(f"{name}: {outcome.error}")
        return
    curves.append(replace(outcome.curve, recipe=label))
    for curve in outcome.curve.curves:
        if curve.error:
            st.warning(f"{name} · {curve.selector}: {curve.error}")


def _value_row(row: dict[str, Any]) -> dict[str, Any]:
    return {"line": row["line"], "N": row["n"], "accuracy": row["accuracy"],
            "± spread": row["spread"], "tokens/item": round(row["tokens"], 1)}
