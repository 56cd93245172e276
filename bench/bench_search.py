"""Step-level search against best-of-N at matched token budgets, through ``ttc eval``.

On the embedded SmolLM2-135M (one torch thread), over a dev split (never a test split):

- best-of-N: N samples of at most T tokens (worst case N·T), picked by majority vote and by
  the answer weight of ``arithmetic_check`` (the same signal as the searches' step scorer);
- beam_search, dvts, particle_filtering, astar_decoding: N steps a round (A*: 4 a node), a
  solution at most ``steps`` steps of T/steps tokens (so at most T, like a sample), scored
  by the ``arithmetic`` step scorer, ``token_budget: N·T`` (planned against each
  expansion's worst case, so never exceeded), the answer picked by ``weighted_best_of_n``
  over the step scores (``agg: min``); beam_search_self_eval scores steps by one-token
  self-evaluation instead (one score call a round, counted in calls).

Reports accuracy (95 % interval), completion and prompt tokens and calls per item, each as a
ratio to best-of-N (majority) measured in the same run, and the prompt tokens each recipe
prefilled against those the prefix cache served. An eval already in ``--db`` is reused, not
re-run.

    python bench/bench_search.py [--dataset arithmetic-dev] [--limit 20] [--n 8] [--tokens 48]
                                 [--steps 3] [--only beam_search dvts] [--db URL]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from typing import Any

from rich.console import Console
from rich.table import Table

import ttc
from ttc.background_loop import run_sync
from ttc.plugins.evaluation.runner import evaluate, load_dataset
from ttc.runtime import CacheFlusher

MODEL = {"runtime": "local", "options": {"threads": 1}}
TEMPLATE = "{question}"
"""The question as the data set words it: on arithmetic-dev (first 20) best-of-N scored 15 %
with it and 10 % with "…Solve it step by step, then give the final answer."."""


def recipes(n: int, tokens: int, steps: int, template: str = TEMPLATE
            ) -> dict[str, dict[str, Any]]:
    """Every recipe draws N solutions of at most T tokens in the worst case: best-of-N in
    one call; a search in ``steps`` steps of T/steps tokens, N steps a round."""
    budget = n * tokens
    sampling = {"temperature": 0.7, "template": template}
    search = {**sampling, "max_tokens": tokens // steps, "max_steps": steps,
              "token_budget": budget, "scorer": {"use": "arithmetic"}, "agg": "min"}
    weighted = {"use": "weighted_best_of_n", "score": "prm", "mode": "weighted", "agg": "min"}
    width = 4
    return {
        "best_of_n": ([{"use": "sample", "n": n, "max_tokens": tokens, **sampling}],
                      {"use": "majority"}),
        "best_of_n_arith": ([{"use": "sample", "n": n, "max_tokens": tokens, **sampling},
                             {"use": "arithmetic_check"}],
                            {"use": "weighted_best_of_n", "score": "arithmetic_check",
                             "mode": "weighted"}),
        "beam_search": ([{"use": "beam_search", "n": n, "beam_width": width, **search}],
                        weighted),
        "dvts": ([{"use": "dvts", "n": n, "beam_width": width, **search}], weighted),
        "particle_filtering": ([{"use": "particle_filtering", "n": n, **search}], weighted),
        "astar_decoding": ([{"use": "astar_decoding", "k": width,
                             "max_expansions": n * steps, **search}], weighted),
        "beam_search_self_eval": ([{"use": "beam_search", "n": n, "beam_width": width,
                                    **search, "scorer": {"use": "self_eval"}}], weighted),
    }


def pipeline(name: str, stages: list[dict], select: dict, cache: bool = True) -> ttc.Pipeline:
    model = MODEL if cache else {**MODEL, "options": {**MODEL["options"],
                                                      "prefix_cache_tokens": 0}}
    recipe = {"name": f"bench-search-{name}", "models": {"m": model}, "task": "number",
              "stages": stages, "select": select}
    return ttc.Pipeline.from_dict(recipe, store=False)


def prefill(args: argparse.Namespace, cache: bool) -> dict[str, dict[str, float]]:
    """Each recipe on the first questions, one at a time, the cache flushed before each:
    prompt tokens, the part the prefix cache served, wall time (this process only)."""
    questions = [item.task for item in load_dataset(args.dataset, limit=args.questions).items]
    out: dict[str, dict[str, float]] = {}
    for name, spec in recipes(args.n, args.tokens, args.steps, args.template).items():
        if args.only and name != "best_of_n" and name not in args.only:
            continue
        p = pipeline(name, *spec, cache=cache)
        runtime = p.runtime("m")
        totals = {"prompt": 0.0, "cached": 0.0, "wall": 0.0}
        for task in questions:
            assert isinstance(runtime, CacheFlusher), "the bench compares cold-cache runs"
            run_sync(runtime.flush_cache())
            started = time.perf_counter()
            ledger = p.run(task, seed=args.seed).ledger.total
            totals["wall"] += time.perf_counter() - started
            totals["prompt"] += ledger.prompt_tokens
            totals["cached"] += ledger.cached_tokens
        out[name] = {k: v / len(questions) for k, v in totals.items()}
    return out


def prefill_table(args: argparse.Namespace) -> Table:
    """The prefill measurement in two fresh processes, the prefix cache on and off."""
    runs = {}
    for cache in ("on", "off"):
        command = [sys.executable, __file__, "--prefill-only", cache, "--dataset", args.dataset,
                   "--questions", str(args.questions), "--n", str(args.n), "--tokens",
                   str(args.tokens), "--steps", str(args.steps), "--template", args.template,
                   "--seed", str(args.seed), *(["--only", *args.only] if args.only else [])]
        runs[cache] = json.loads(subprocess.run(command, check=True, capture_output=True,
                                                text=True).stdout.splitlines()[-1])
    table = Table("recipe", "prompt tok/question", "served by the cache", "prefilled",
                  "wall, cache on", "wall, cache off", "on / off",
                  title=f"prefix cache during search: {args.questions} questions one at a "
                        "time, cache flushed before each")
    for name, on in runs["on"].items():
        off = runs["off"][name]
        table.add_row(name, f"{on['prompt']:.0f}", f"{on['cached'] / on['prompt']:.0%}",
                      f"{on['prompt'] - on['cached']:.0f}", f"{on['wall']:.2f}s",
                      f"{off['wall']:.2f}s", f"{on['wall'] / off['wall']:.2f}×")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="arithmetic-dev")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--n", type=int, default=8, help="best-of-N samples")
    parser.add_argument("--tokens", type=int, default=48, help="tokens per best-of-N sample")
    parser.add_argument("--steps", type=int, default=3, help="steps of a search solution")
    parser.add_argument("--template", default=TEMPLATE, help="the user message ({question})")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--db", default=None, help="run store URL (default: a temp file)")
    parser.add_argument("--only", nargs="*", help="recipe names to run (best_of_n always)")
    parser.add_argument("--questions", type=int, default=5,
                        help="questions of the prefix-cache measurement")
    parser.add_argument("--prefill-only", choices=["on", "off"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prefill_only:
        print(json.dumps(prefill(args, args.prefill_only == "on")))
        return
    if args.dataset.endswith("-test"):
        parser.error("tune and benchmark on dev splits; test splits are for reporting")
    db = args.db or f"sqlite:///{tempfile.mkdtemp(prefix='bench-search-')}/runs.db"
    chosen = recipes(args.n, args.tokens, args.steps, args.template)
    if args.only:
        chosen = {k: v for k, v in chosen.items() if k == "best_of_n" or k in args.only}
    pipelines = [pipeline(name, *spec) for name, spec in chosen.items()]
    started = time.perf_counter()
    results = evaluate(pipelines, args.dataset, store=db, limit=args.limit,
                       concurrency=args.concurrency, seed=args.seed)
    wall = time.perf_counter() - started
    summaries = {name: r.summary for name, r in zip(chosen, results, strict=True)}
    base = summaries["best_of_n"]

    def ratio(value: float, reference: float) -> str:
        return f"{value / reference:.2f}×" if reference else "–"

    table = Table("recipe", "accuracy", "95 % interval", "vs BoN", "completion tok/item",
                  "vs BoN", "calls/item", "prompt tok/item", "prefilled tok/item",
                  "cache hit",
                  title=f"{args.dataset} (first {args.limit}), budget {args.n}×{args.tokens} "
                        f"= {args.n * args.tokens} tokens, seed {args.seed}")
    for name, s in summaries.items():
        table.add_row(name, f"{s.accuracy:.1%}", f"{s.interval.low:.1%} – {s.interval.high:.1%}",
                      ratio(s.accuracy, base.accuracy), f"{s.completion_tokens_per_item:.0f}",
                      ratio(s.completion_tokens_per_item, base.completion_tokens_per_item),
                      f"{s.calls_per_item:.1f}", f"{s.prompt_tokens_per_item:.0f}",
                      f"{s.prompt_tokens_per_item - s.cached_tokens_per_item:.0f}",
                      f"{s.cache_hit_ratio:.0%}")
    console = Console(width=170)
    console.print(table)
    console.print(f"runs recorded in {db}; {wall:.0f}s in all. Prefilled = prompt tokens "
                  "computed; the rest (cache hit) were served by the prefix cache, across "
                  "items and recipes of the eval too.")
    console.print(prefill_table(args))


if __name__ == "__main__":
    main()
