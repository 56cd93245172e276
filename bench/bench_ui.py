"""UI page load time against the size of the run store, as ratios between sizes.

One SQLite store grows in the same process (by default to 100, 1,000 and 10,000 runs; each run
a copy of one recorded scripted run, with its stages, candidates and model calls, so every
table grows). At each size the Runs page (first page, a recipe filter, the last page, a text
search) and one run page are loaded through Streamlit's AppTest, which runs the real page
scripts; each load is timed several times and the median kept. Ratios against the smallest
size show how load time scales: pages read through indexes stay flat, a text search (a
``LIKE '%…%'`` scan) grows with the table.

    python bench/bench_ui.py [--sizes 100 1000 10000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("TTC_DISABLE_ENTRY_POINTS", "1")
os.environ.pop("TTC_DATABASE_URL", None)
os.environ["TTC_RECORD"] = "0"

import logging

from rich.console import Console
from rich.table import Table
from sqlalchemy import insert
from streamlit.testing.v1 import AppTest

from ttc import Pipeline
from ttc.storage import RunStore
from ttc.storage.models import CandidateRow, ModelCallRow, RunRow, StageRow
from ttc.ui.settings import DB_KEY

APP = Path(__file__).resolve().parents[1] / "ui" / "app.py"
RECIPES = ("bench-a", "bench-b", "bench-c", "bench-d", "bench-e")
RECIPE = """\
name: bench-ui
models:
  m:
    runtime: scripted
    options: {responses: ['The answer is 4', 'The answer is 5', 'The answer is 4']}
task: number
stages:
  - {use: sample, n: 4, max_tokens: 32}
  - {use: critic, mode: each, max_tokens: 16, retries: 0}
select: {use: majority}
"""


def columns(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


def grow(store: RunStore, template: RunRow, total: int) -> None:
    """Add copies of ``template`` (children included) until the store holds ``total`` runs."""
    have = store.count_runs()
    run = columns(template)
    children = [(StageRow, [columns(s) for s in template.stages]),
                (CandidateRow, [columns(c) for c in template.candidates]),
                (ModelCallRow, [columns(c) for c in template.model_calls])]
    batch = 500
    for start in range(have, total, batch):
        runs, rows = [], {table: [] for table, _ in children}
        for i in range(start, min(start + batch, total)):
            run_id = f"r-bench{i:08d}"
            runs.append(run | {"id": run_id, "recipe_name": RECIPES[i % len(RECIPES)],
                               "task": {"prompt": f"bench question {i}"},
                               "answer": str(i % 10),
                               "started_at": template.started_at - timedelta(seconds=i + 1)})
            for table, items in children:
                for item in items:
                    copy = item | {"run_id": run_id}
                    if table is StageRow:
                        copy.pop("id")
                    elif table is ModelCallRow:
                        copy["id"] = uuid.uuid4().hex
                    rows[table].append(copy)

        def work(session: Any, runs: list = runs, rows: dict = rows) -> None:
            session.execute(insert(RunRow), runs)
            for table, items in rows.items():
                session.execute(insert(table), items)

        store.write(work)


def timed(load: Callable[[], Any], repeats: int) -> float:
    load()  # warm: imports, caches, the first script run
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        load()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def page(url: str, name: str, **query: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state[DB_KEY] = url
    at.run()
    at.query_params.update(query)
    at.switch_page(f"page_scripts/{name}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def measure(url: str, run_id: str, repeats: int) -> dict[str, float]:
    runs = page(url, "runs")
    recipe = page(url, "runs")
    recipe.selectbox(key="runs.recipe").set_value("bench-c").run()
    last = page(url, "runs")
    page_input = next(w for w in last.number_input if w.key.startswith("runs.page"))
    page_input.set_value(page_input.max).run()
    search = page(url, "runs")
    search.text_input(key="runs.text").set_value("question 4242").run()
    one = page(url, "run", run=run_id)
    store = RunStore.open(url)
    return {
        "Runs page, newest first": timed(runs.run, repeats),
        "Runs page, one recipe": timed(recipe.run, repeats),
        "Runs page, last page": timed(last.run, repeats),
        "Runs page, text search": timed(search.run, repeats),
        "run page (one run)": timed(one.run, repeats),
        "store: count + one page": timed(
            lambda: (store.count_runs(), store.run_summaries(limit=25)), repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    console = Console()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        store = RunStore.open(url)
        result = Pipeline.from_text(RECIPE, "<bench>", store=store).run("bench question")
        template = store.get_run(result.run_id)
        results: dict[int, dict[str, float]] = {}
        for size in sorted(args.sizes):
            started = time.perf_counter()
            grow(store, template, size)
            console.print(f"store at {store.count_runs():,} runs "
                          f"(filled in {time.perf_counter() - started:.1f} s); measuring…")
            results[size] = measure(url, template.id, args.repeats)
    sizes = sorted(results)
    base = sizes[0]
    table = Table(title=f"UI load time (median of {args.repeats}, ms) and ratio to "
                  f"{base:,} runs")
    table.add_column("page")
    for size in sizes:
        table.add_column(f"{size:,} runs", justify="right")
    for name in results[base]:
        cells = [f"{results[s][name]:.0f} ms (×{results[s][name] / results[base][name]:.2f})"
                 for s in sizes]
        table.add_row(name, *cells)
    console.print(table)


if __name__ == "__main__":
    main()
