"""Paired comparisons of stored evals against a baseline, on the items they share: the
accuracy difference with its paired bootstrap 95 % interval, wins, losses and the exact
McNemar p (``compare``, what ``ttc compare`` prints), as a table and an interval plot."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

from ttc import TTCError
from ttc.plugins.evaluation.comparison import Comparison, compare
from ttc.storage.evals import EvalStore
from ttc.ui.eval_listing import eval_label, eval_version
from ttc.ui.settings import open_store

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ComparisonOutcome:
    comparison: Comparison | None
    error: str | None = None


@st.cache_data(show_spinner=False, max_entries=256)
def compute_comparison(db: str | None, baseline: str, other: str,
                       versions: tuple[str, str]) -> ComparisonOutcome:
    """``compare`` for one pair (a pair that shares no item fails alone). ``versions`` is
    only part of the cache key."""
    try:
        (comparison,) = compare(open_store(db), [baseline, other])
    except TTCError as exc:
        return ComparisonOutcome(None, str(exc))
    except Exception as exc:  # a row it cannot read: say so instead of a traceback
        logger.exception("comparison of %s with %s", other, baseline)
        return ComparisonOutcome(None, f"{type(exc).__name__}: {exc}")
    return ComparisonOutcome(comparison)


def comparison_row(c: Comparison) -> dict[str, Any]:
    """One compared eval (the baseline's accuracy is in the baseline picker's label)."""
    d = c.paired
    return {"compared": f"{c.other} {c.other_name}", "acc.": c.other_accuracy,
            "difference": d.difference,
            "95 % interval (paired bootstrap)": f"{d.interval.low:+.1%} … {d.interval.high:+.1%}",
            "verdict": c.verdict, "wins": d.wins, "losses": d.losses, "McNemar p": d.p_value,
            "shared items": c.shared}


def interval_chart(comparisons: Sequence[Comparison]) -> Any:
    """Each difference as a dot on its interval, against the baseline's zero line."""
    import altair as alt

    rows = [{"eval": f"{c.other_name} · {c.other}", "difference": c.paired.difference,
             "low": c.paired.interval.low, "high": c.paired.interval.high,
             "verdict": c.verdict} for c in comparisons]
    title = f"accuracy − baseline ({comparisons[0].baseline_name})"
    base = alt.Chart(alt.Data(values=rows)).encode(
        y=alt.Y("eval:N", title=None, sort=None, axis=alt.Axis(labelLimit=320)),
        tooltip=["eval:N", alt.Tooltip("difference:Q", format="+.1%"),
                 alt.Tooltip("low:Q", format="+.1%"), alt.Tooltip("high:Q", format="+.1%"),
                 "verdict:N"])
    bars = base.mark_rule(strokeWidth=3, opacity=0.6).encode(
        x=alt.X("low:Q", title=title, axis=alt.Axis(format="+.0%")), x2="high:Q")
    dots = base.mark_point(filled=True, size=90).encode(x="difference:Q")
    zero = alt.Chart(alt.Data(values=[{"zero": 0}])).mark_rule(
        strokeDash=[4, 4], color="gray").encode(x="zero:Q")
    return (zero + bars + dots).properties(height=alt.Step(36))


def render(db: str | None, evals: EvalStore, headers: Sequence[Any], key: str) -> None:
    """A baseline picker, then every other eval compared with it."""
    if len(headers) < 2:
        st.caption("Pick two or more evals of the same data set to compare them pairwise.")
        return
    by_id = {h.id: h for h in headers}
    baseline = st.selectbox("baseline", list(by_id), key=f"{key}.baseline",
                            format_func=lambda i: eval_label(by_id[i]))
    base = by_id[baseline]
    found = []
    with st.spinner("Comparing on shared items…"):
        for other in headers:
            if other.id == baseline:
                continue
            outcome = compute_comparison(
                db, baseline, other.id, (eval_version(evals, base), eval_version(evals, other)))
            if outcome.comparison is None:
                st.warning(f"{other.id} ({other.recipe_name}): {outcome.error}")
            else:
                found.append(outcome.comparison)
    if not found:
        return
    st.dataframe([comparison_row(c) for c in found], hide_index=True, key=f"{key}.table",
                 column_config={
                     "acc.": st.column_config.NumberColumn(format="percent"),
                     "difference": st.column_config.NumberColumn(format="percent"),
                     "McNemar p": st.column_config.NumberColumn(format="%.3g"),
                     "verdict": st.column_config.TextColumn(width="medium")})
    st.altair_chart(interval_chart(found))
    st.caption("Differences are paired: the same items graded in both evals. Wins are items "
               "the compared eval got right and the baseline wrong, losses the reverse; the "
               "McNemar p tests whether they differ by chance (significant below 0.05).")
