"""Scaling plots: accuracy against N and against tokens per item, one line per recipe and
selector, the oracle dashed, fixed-cost recipes (e.g. greedy) as points.

``scaling_chart`` builds an Altair chart (what Streamlit draws natively, so the UI shows the
same spec); ``write_plot`` saves it as standalone HTML, or draws the same data with
matplotlib as a PNG. Both libraries are imported only when a plot is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ttc.errors import UsageError
from ttc.plugins.evaluation.results import EvalSummary
from ttc.plugins.evaluation.scaling import ORACLE, ScalingCurve

PLOT_HINT = "plots need matplotlib and altair: pip install 'ttc-orchestrator[eval]'"


def chart_rows(curves: Sequence[ScalingCurve], points: Sequence[EvalSummary] = ()
               ) -> list[dict[str, Any]]:
    """Long-form rows (one per curve point), the data both renderers draw."""
    rows = []
    several = len({c.dataset for c in curves} | {p.dataset for p in points}) > 1

    def on(dataset: str) -> str:  # name the data set only when the plot has several
        return f"{dataset}: " if several else ""

    for scaling in curves:
        for curve in scaling.curves:
            if curve.error:
                continue
            for point in curve.points:
                rows.append({"recipe": scaling.recipe, "selector": curve.selector,
                             "line": f"{on(scaling.dataset)}{scaling.recipe} · {curve.selector}",
                             "oracle": curve.selector == ORACLE, "n": point.n,
                             "accuracy": point.accuracy, "spread": point.spread,
                             "low": max(0.0, point.accuracy - point.spread),
                             "high": min(1.0, point.accuracy + point.spread),
                             "tokens": point.tokens_per_item})
    for summary in points:
        same = sum(1 for other in points
                   if (other.recipe, other.dataset) == (summary.recipe, summary.dataset))
        line = on(summary.dataset) + (summary.recipe if same == 1 else
                                      f"{summary.recipe} (seed {summary.seed})")
        rows.append({"recipe": summary.recipe, "selector": "(recipe)",
                     "line": line, "oracle": False, "n": 1,
                     "accuracy": summary.accuracy, "spread": 0.0,
                     "low": summary.interval.low, "high": summary.interval.high,
                     "tokens": summary.tokens_per_item, "point": True})
    return rows


def scaling_chart(curves: Sequence[ScalingCurve], points: Sequence[EvalSummary] = ()) -> Any:
    try:
        import altair as alt
    except ImportError:
        raise UsageError(PLOT_HINT) from None
    data = alt.Data(values=chart_rows(curves, points))
    dash = alt.condition("datum.oracle", alt.value([6, 4]), alt.value([1, 0]))
    color = alt.Color("line:N", title=None,
                      legend=alt.Legend(orient="bottom", columns=2, labelLimit=0))
    tooltip: list[str | alt.Tooltip] = ["line:N", "n:Q", alt.Tooltip("accuracy:Q", format=".1%"),
                                        alt.Tooltip("tokens:Q", format=",.0f")]

    def panel(x: Any, title: str) -> Any:
        base = alt.Chart(data).encode(x=x, color=color, tooltip=tooltip)
        lines = base.transform_filter("!datum.point").mark_line(point=True).encode(
            y=alt.Y("accuracy:Q", axis=alt.Axis(format="%"), title="accuracy"),
            strokeDash=dash)
        band = base.transform_filter("!datum.point").mark_area(opacity=0.15).encode(
            y="low:Q", y2="high:Q")
        dots = base.transform_filter("datum.point").mark_point(size=90, filled=True).encode(
            y="accuracy:Q", shape=alt.value("diamond"))
        return (band + lines + dots).properties(title=title, width=320, height=260)

    by_n = panel(alt.X("n:Q", scale=alt.Scale(type="log", base=2), title="N (samples)"),
                 "accuracy vs N")
    by_tokens = panel(alt.X("tokens:Q", scale=alt.Scale(type="log"),
                            title="tokens per item"), "accuracy vs tokens")
    return alt.hconcat(by_n, by_tokens)


def write_plot(path: str | Path, curves: Sequence[ScalingCurve],
               points: Sequence[EvalSummary] = ()) -> Path:
    """``.html``: the interactive Altair chart, standalone; ``.png``: matplotlib."""
    path = Path(path)
    if path.suffix == ".html":
        scaling_chart(curves, points).save(str(path), inline=_inline_available())
    elif path.suffix == ".png":
        _png(path, chart_rows(curves, points))
    else:
        raise UsageError(f"{path}: plots are written as .png or .html")
    return path


def _inline_available() -> bool:
    """Inline JavaScript (no CDN at view time) needs the optional vl-convert package."""
    try:
        import vl_convert  # noqa: F401
    except ImportError:
        return False
    return True


def _token_ticks(values: list[float]) -> list[float]:
    """A few round numbers across the range (1, 2, 3, 5 × 10^k)."""
    import math

    low, high = min(values), max(values)
    ticks = []
    for exponent in range(math.floor(math.log10(max(low, 1))),
                          math.ceil(math.log10(max(high, 1))) + 1):
        ticks += [m * 10**exponent for m in (1, 2, 3, 5)]
    inside = [t for t in ticks if low / 1.5 <= t <= high * 1.5]
    return inside or [low, high]


def _png(path: Path, rows: list[dict[str, Any]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError(PLOT_HINT) from None
    lines: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        lines.setdefault(row["line"], []).append(row)
    figure, (by_n, by_tokens) = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (name, points) in enumerate(sorted(lines.items())):
        colour = colours[index % len(colours)]
        if points[0].get("point"):
            (p,) = points
            for axis, x in ((by_n, p["n"]), (by_tokens, p["tokens"])):
                axis.errorbar([x], [p["accuracy"]], yerr=[[p["accuracy"] - p["low"]],
                                                          [p["high"] - p["accuracy"]]],
                              fmt="D", color=colour, label=name, capsize=3)
            continue
        points.sort(key=lambda r: r["n"])
        style = "--" if points[0]["oracle"] else "-"
        for axis, key in ((by_n, "n"), (by_tokens, "tokens")):
            xs = [r[key] for r in points]
            axis.plot(xs, [r["accuracy"] for r in points], style, marker="o", color=colour,
                      label=name)
            axis.fill_between(xs, [r["low"] for r in points], [r["high"] for r in points],
                              color=colour, alpha=0.12, linewidth=0)
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    by_n.set_xscale("log", base=2)
    by_n.xaxis.set_major_locator(FixedLocator(sorted({r["n"] for r in rows})))
    by_n.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    by_n.set_xlabel("N (samples)")
    by_tokens.set_xscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:,.0f}")
    by_tokens.xaxis.set_major_formatter(plain)
    by_tokens.xaxis.set_minor_formatter(NullFormatter())
    tokens = [r["tokens"] for r in rows]
    by_tokens.xaxis.set_major_locator(FixedLocator(_token_ticks(tokens)))
    by_tokens.set_xlim(min(tokens) / 1.25, max(tokens) * 1.15)  # room for the round ticks
    by_tokens.set_xlabel("tokens per item (prompt + completion)")
    by_n.set_ylabel("accuracy")
    for axis in (by_n, by_tokens):
        axis.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        axis.grid(alpha=0.3)
    by_n.set_title("accuracy vs N")
    by_tokens.set_title("accuracy vs tokens")
    handles, labels = by_n.get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=2, frameon=False, fontsize=8)
    figure.tight_layout(rect=(0, 0.12 + 0.03 * (len(labels) // 2), 1, 1))
    figure.savefig(path, dpi=120)
    plt.close(figure)
