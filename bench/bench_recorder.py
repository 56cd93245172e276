"""Recorder overhead per model call, on the scripted runtime (no model time to hide behind).

The same recipe (sample stages on the scripted runtime, 50-token completions with token
statistics) runs with and without the recorder, interleaved in the same process, so both
sides see the same machine load. The difference divided by the calls is what recording adds
per model call: one committed row per call, plus the stage, candidate and run rows.

    python bench/bench_recorder.py [--db URL] [--runs 20] [--stages 25]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TTC_DISABLE_ENTRY_POINTS", "1")
os.environ.pop("TTC_DATABASE_URL", None)
os.environ["TTC_RECORD"] = "0"

from rich.console import Console
from rich.table import Table

from ttc.pipeline import Pipeline
from ttc.plugin_system import PluginHost
from ttc.storage import Recorder, RunStore

RESPONSE = " ".join(["step"] * 45 + ["so", "the", "answer", "is", "4"])


def recipe(stages: int) -> str:
    body = "".join(
        f"  - use: sample\n    model: m\n    n: 4\n    top_logprobs: 5\n    system: s{i}\n"
        for i in range(stages))
    return ("name: bench-recorder\ntask: number\nmodels:\n  m:\n    runtime: scripted\n"
            f"    options: {{responses: ['{RESPONSE}']}}\nstages:\n{body}"
            "select:\n  use: majority\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="Store URL (default: a SQLite file in a tmp dir).")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--stages", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or f"sqlite:///{folder}/bench.db"
        store = RunStore.open(url)
        host = PluginHost(load_entry_points=False)
        pipeline = Pipeline.from_text(recipe(args.stages), host=host)
        pipeline.run("warm up")
        plain: list[float] = []
        recorded: list[float] = []
        for i in range(args.runs):
            for record in ((False, True) if i % 2 else (True, False)):
                name = host.register(Recorder(store), name="bench-recorder") if record else None
                started = time.perf_counter()
                result = pipeline.run(f"question {i}")
                elapsed = time.perf_counter() - started
                if name:
                    host.unregister(name)
                assert result.status == "succeeded"
                (recorded if record else plain).append(elapsed / args.stages)
        rows = sum(len(store.get_run(r.id).model_calls) for r in store.list_runs(limit=None))
        assert rows == args.runs * args.stages, rows
    base, rec = statistics.median(plain), statistics.median(recorded)
    table = Table("backend", "calls/run", "per call, no recorder", "per call, recorder",
                  "overhead per call", "ratio", title="recorder overhead (median of runs)")
    table.add_row(url.split(":", 1)[0], str(args.stages), f"{base * 1e3:.3f} ms",
                  f"{rec * 1e3:.3f} ms", f"{(rec - base) * 1e3:.3f} ms", f"{rec / base:.2f}x")
    Console().print(table)


if __name__ == "__main__":
    main()
