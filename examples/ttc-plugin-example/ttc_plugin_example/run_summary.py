"""A lifecycle hook: one JSON line per finished run (id, recipe, status, answer, tokens) to
the file ``TTC_RUN_SUMMARY`` names; nothing when it is unset."""

from __future__ import annotations

import json
import os
from typing import Any

SUMMARY_ENV = "TTC_RUN_SUMMARY"


def summary_line(run: Any, result: Any) -> dict[str, Any]:
    total = result.ledger.total
    return {"run": run.run_id, "recipe": run.recipe_name, "status": result.status,
            "answer": result.answer, "calls": total.calls,
            "tokens": total.prompt_tokens + total.completion_tokens}


def write_summary(run: Any, result: Any) -> None:
    path = os.environ.get(SUMMARY_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(summary_line(run, result)) + "\n")
