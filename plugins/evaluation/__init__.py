"""Evaluate recipes on data sets: accuracy with intervals, paired comparisons, scaling
curves from stored candidates, plots.

    from ttc.plugins.evaluation import evaluate, compare, scaling_curve
    [greedy, voted] = evaluate(["recipes/greedy.yaml", "recipes/arithmetic.yaml"],
                               "arithmetic-test")
    compare(store, [greedy.eval_id, voted.eval_id])

Names load on first use, so registering the plugin imports nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "evaluate": "ttc.plugins.evaluation.runner",
    "aevaluate": "ttc.plugins.evaluation.runner",
    "load_dataset": "ttc.plugins.evaluation.runner",
    "compare": "ttc.plugins.evaluation.comparison",
    "Comparison": "ttc.plugins.evaluation.comparison",
    "scaling_curve": "ttc.plugins.evaluation.scaling",
    "ScalingCurve": "ttc.plugins.evaluation.scaling",
    "EvalResult": "ttc.plugins.evaluation.results",
    "EvalSummary": "ttc.plugins.evaluation.results",
    "ItemResult": "ttc.plugins.evaluation.results",
    "write_plot": "ttc.plugins.evaluation.plots",
    "scaling_chart": "ttc.plugins.evaluation.plots",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ttc.plugins.evaluation' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
