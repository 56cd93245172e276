"""Evals as list rows and labels: the numbers ``ttc evals list`` and ``ttc eval`` print, read
from the summary the eval stored (never recomputed for a list)."""

from __future__ import annotations

import logging
from pathlib import PurePath
from typing import Any

from ttc.plugins.evaluation.results import EvalSummary
from ttc.storage.evals import EvalStore
from ttc.ui.timestamps import local_time

logger = logging.getLogger(__name__)


def summary_of(row: Any) -> EvalSummary | None:
    """The typed summary of an eval row or listing; None while it runs (or when the stored
    JSON is from an incompatible version, which is logged, not shown as an error)."""
    if not row.summary:
        return None
    try:
        return EvalSummary.from_dict(row.summary)
    except (TypeError, KeyError, ValueError) as exc:
        logger.warning("eval %s: unreadable summary (%s)", row.id, exc)
        return None


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def dataset_label(dataset: str) -> str:
    """A registered data set's name, or a JSONL file's name without its folder."""
    return PurePath(dataset).name if "/" in dataset or "\\" in dataset else dataset


def eval_label(row: Any) -> str:
    """How pickers name an eval: id, recipe, data set, seed and accuracy."""
    summary = summary_of(row)
    accuracy = f" · {pct(summary.accuracy)}" if summary else f" · {row.status}"
    return (f"{row.id} · {row.recipe_name} · {dataset_label(row.dataset)} · seed {row.seed}"
            + accuracy)


def listing_row(row: Any) -> dict[str, Any]:
    """One row of the Evals table (links open the eval page)."""
    s = summary_of(row)
    status = row.status if s is None or s.status == "finished" else f"{row.status} ({s.status})"
    return {
        "eval": f"eval?eval={row.id}",
        "recipe": row.recipe_name,
        "data set": dataset_label(row.dataset),
        "seed": row.seed,
        "status": status,
        "accuracy": None if s is None else s.accuracy,
        "95 % interval": "" if s is None else f"{pct(s.interval.low)} – {pct(s.interval.high)}",
        "right": "" if s is None else f"{s.correct}/{s.graded}"
                                      + (f" ({s.failed} failed)" if s.failed else ""),
        "tokens/item": None if s is None else round(s.tokens_per_item),
        "calls/item": None if s is None else round(s.calls_per_item, 1),
        "cache hit": None if s is None else s.cache_hit_ratio,
        "oracle": None if s is None else s.oracle,
        "items": row.items,
        "started": local_time(row.started_at),
        "seconds": round(row.wall_time or 0.0, 1),
    }


def score_rows(summary: EvalSummary) -> list[dict[str, Any]]:
    """How well each candidate score tells right from wrong answers (AUROC)."""
    return [{"score": q.name, "candidates": q.candidates, "AUROC (pooled)": q.auroc,
             "AUROC (within item)": q.auroc_within, "items with both": q.items_with_both}
            for q in summary.scores]


def eval_version(evals: EvalStore, header: Any) -> str:
    """Changes whenever the eval's curves can: a finished eval by its end, a running one by
    how many items are graded so far."""
    if header.status != "running":
        return f"{header.status}/{header.finished_at}"
    graded = evals.count_items(header.id) - evals.count_items(header.id, outcome="ungraded")
    return f"running/{graded}"
