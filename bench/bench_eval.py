"""Evaluation costs, as ratios against baselines measured in the same run.

1. Eval overhead per item: ``evaluate`` (item rows written before the run, grading, the
   summary with AUROC and oracle read back from the store) against running the same recipe
   item by item with ``Pipeline.run`` into the same kind of store. Target: <= 5 %. Measured
   twice: on the embedded model (the realistic case: seconds per item) and on an instant
   scripted runtime (the worst case: nothing to hide behind).
2. A scaling curve from stored candidates: 64 subsets × 8 selectors × 200 items (16
   candidates each, at N = 8). Target: < 10 s. Then the whole curve, N ∈ {1, 2, 4, 8, 16}.

    python bench/bench_eval.py            # both
    python bench/bench_eval.py --quick    # scripted overhead and the curve only
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TTC_DISABLE_ENTRY_POINTS", "1")

from rich.console import Console
from rich.table import Table

from ttc.pipeline import Pipeline
from ttc.plugins.evaluation import evaluate, scaling_curve
from ttc.storage import RunStore

SCRIPTED = """name: bench-scripted
task: number
models:
  s: {runtime: scripted, options: {responses: %s, rotate_by_seed: true}}
stages:
  - use: sample
    n: %d
select: {use: majority}
"""
LOCAL = """name: bench-local
task: number
models:
  small: {runtime: local}
stages:
  - use: sample
    n: 4
    temperature: 0.7
    max_tokens: 24
select: {use: majority}
"""
SELECTORS = ["majority", "majority:tie_break=first", "first", "self_certainty",
             "self_certainty:truncated=last", "borda", "borda:p=2",
             "perplexity_consistency:prune=false"]
"""Eight selectors that read stored candidates. (RPC's Weibull pruning fits a distribution per
selection, about 1 ms each; it is left out of the timed set.)"""


def dataset(folder: Path, items: int) -> Path:
    path = folder / f"bench-{items}.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"What is {i} + {i}?",
                                        "reference": str(2 * i % 7)}) + "\n"
                            for i in range(items)))
    return path


def overhead(recipe_text: str, items: int, folder: Path, repeats: int) -> tuple[float, float]:
    """(item by item, evaluate) seconds, best of ``repeats``, each into a fresh store."""
    data = dataset(folder, items)
    tasks = [json.loads(line) for line in data.read_text().splitlines()]
    recipe = folder / "recipe.yaml"
    recipe.write_text(recipe_text)
    direct, evals = [], []
    for r in range(repeats):
        store = RunStore.open(f"sqlite:///{folder / f'direct-{r}.db'}")
        pipeline = Pipeline.from_yaml(recipe, store=store)
        pipeline.run(tasks[0])  # load the model outside the clock
        started = time.perf_counter()
        for task in tasks:
            pipeline.run(task)
        direct.append(time.perf_counter() - started)
        store = RunStore.open(f"sqlite:///{folder / f'eval-{r}.db'}")
        started = time.perf_counter()
        evaluate([pipeline], data, store=store, concurrency=1)
        evals.append(time.perf_counter() - started)
    return min(direct), min(evals)


def curve_time(folder: Path) -> list[tuple[str, float, int]]:
    responses = json.dumps([f"so the answer is {i % 5}" for i in range(23)])
    recipe = folder / "curve.yaml"
    recipe.write_text(SCRIPTED % (responses, 16))
    store = RunStore.open(f"sqlite:///{folder / 'curve.db'}")
    (result,) = evaluate([recipe], dataset(folder, 200), store=store, concurrency=16)
    scaling_curve(store, result.eval_id, ["first"], ns=[1], subsets=1)  # warm the imports
    out = []
    for label, ns in (("N = 8", [8]), ("N ∈ {1, 2, 4, 8, 16}", [1, 2, 4, 8, 16])):
        started = time.perf_counter()
        curve = scaling_curve(store, result.eval_id, SELECTORS, ns=ns, subsets=64)
        elapsed = time.perf_counter() - started
        errors = [c.selector for c in curve.curves if c.error]
        assert not errors, errors
        selections = sum(p.subsets for c in curve.curves[:-1] for p in c.points) * curve.items
        out.append((label, elapsed, selections))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="skip the embedded model")
    args = parser.parse_args()
    console = Console()
    table = Table("measurement", "baseline", "ttc eval / curve", "ratio", "target",
                  title="evaluation costs")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        responses = json.dumps([f"so the answer is {i % 5}" for i in range(7)])
        direct, evals = overhead(SCRIPTED % (responses, 4), 100, folder, repeats=3)
        table.add_row("overhead, instant scripted runtime, 100 items",
                      f"{direct / 100 * 1000:.2f} ms/item", f"{evals / 100 * 1000:.2f} ms/item",
                      f"×{evals / direct:.3f}", "(worst case)")
        if not args.quick:
            direct, evals = overhead(LOCAL, 12, folder, repeats=2)
            table.add_row("overhead, embedded model, 12 items",
                          f"{direct / 12:.2f} s/item", f"{evals / 12:.2f} s/item",
                          f"×{evals / direct:.3f}", "≤ ×1.05")
        for label, elapsed, selections in curve_time(folder):
            table.add_row(f"scaling curve, 8 selectors × 200 items × 64 subsets, {label}",
                          f"{selections:,} selections", f"{elapsed:.2f} s",
                          f"{elapsed / selections * 1e6:.0f} µs/selection",
                          "< 10 s" if label == "N = 8" else "")
    console.print(table)


if __name__ == "__main__":
    main()
