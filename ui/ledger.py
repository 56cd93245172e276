"""The ledger of a recorded run per stage and per repeat round, from the stored stage rows.

Each stage execution's usage comes from ``ttc.storage.run_view.stage_executions`` (a round's
own meter; older records, whose stage rows held the meter of all rounds so far, by
difference), so this view and ``ttc runs show`` read the store the same way. The model calls
recorded per stage are counted alongside.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ttc.storage.run_view import stage_executions

FIELDS = ("calls", "served_calls", "failed_calls", "warnings", "prompt_tokens",
          "cached_tokens", "prefilled_tokens", "completion_tokens", "wall_time")


def ledger_rows(run: Any) -> list[dict[str, Any]]:
    """One row per stage execution (stage, round) plus a total row."""
    recorded = Counter(call.stage for call in run.model_calls)
    rows = []
    for execution in stage_executions(run):
        stage, usage = execution.row, execution.usage
        row: dict[str, Any] = {"stage": stage.name, "round": stage.round or None,
                               "status": stage.status,
                               "components": ", ".join(stage.components or [])}
        for field in FIELDS:
            value = usage.get(field, 0)
            row[field] = round(float(value), 4) if field == "wall_time" else int(value)
        prompt = row["prompt_tokens"]
        row["cache_hit"] = round(row["cached_tokens"] / prompt, 3) if prompt else None
        row["calls_recorded"] = recorded.get(stage.name, 0)  # every round of the stage
        rows.append(row)
    total = (run.ledger or {}).get("total") or {}
    rows.append({
        "stage": "total", "round": None, "status": run.status, "components": "",
        **{field: total.get(field, 0) for field in FIELDS},
        "cache_hit": total.get("cache_hit_ratio"),
        "calls_recorded": len(run.model_calls),
    })
    return rows
