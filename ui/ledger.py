"""The ledger of a recorded run per stage and per repeat round, from the stored stage rows.

A stage row holds its stage's meter as it stood when that round finished (the meter of a
stage inside a repeat block runs on across rounds), so one round's usage is the difference
between consecutive rounds; the model calls recorded per stage are counted alongside, so the
view shows the store's own records side by side.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

FIELDS = ("calls", "failed_calls", "prompt_tokens", "cached_tokens", "completion_tokens",
          "wall_time")


def ledger_rows(run: Any) -> list[dict[str, Any]]:
    """One row per stage execution (stage, round) plus a total row."""
    recorded = Counter(call.stage for call in run.model_calls)
    previous: dict[str, dict[str, float]] = {}
    rows = []
    for stage in sorted(run.stages, key=lambda s: s.seq):
        usage = stage.usage or {}
        before = previous.get(stage.name, {}) if stage.round > 1 else {}
        row: dict[str, Any] = {"stage": stage.name, "round": stage.round or None,
                               "status": stage.status,
                               "components": ", ".join(stage.components or [])}
        for field in FIELDS:
            row[field] = round(float(usage.get(field, 0)) - float(before.get(field, 0)), 4) \
                if field == "wall_time" else int(usage.get(field, 0)) - int(before.get(field, 0))
        prompt = row["prompt_tokens"]
        row["cache_hit"] = round(row["cached_tokens"] / prompt, 3) if prompt else None
        row["calls_recorded"] = recorded.get(stage.name, 0)  # every round of the stage
        previous[stage.name] = usage
        rows.append(row)
    total = (run.ledger or {}).get("total") or {}
    rows.append({
        "stage": "total", "round": None, "status": run.status, "components": "",
        **{field: total.get(field, 0) for field in FIELDS},
        "cache_hit": total.get("cache_hit_ratio"),
        "calls_recorded": len(run.model_calls),
    })
    return rows
