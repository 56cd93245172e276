"""Scaling curves from stored candidates equal a brute-force recomputation; paired
comparisons of stored evals; plots; ``ttc scaling`` and ``ttc compare``."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from ttc.plugins.evaluation import compare, evaluate, scaling_curve, write_plot
from ttc.storage import RunStore
from ttc.storage.evals import EvalStore

VOTE = """name: rotating-vote
task: number
models:
  s: {runtime: scripted, options: {responses: ["1", "2", "2", "3", "7", "2", "1"],
                                   rotate_by_seed: true}}
stages:
  - use: sample
    n: 5
select: {use: majority, tie_break: first}
"""
FIRST = VOTE.replace("name: rotating-vote", "name: rotating-first").replace(
    "{use: majority, tie_break: first}", "{use: first}")


@pytest.fixture
def stored(write_recipe, tmp_path):
    recipe = write_recipe(VOTE)
    data = tmp_path / "set.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"question {i}",
                                        "reference": str(1 + i % 3)}) + "\n"
                            for i in range(12)))
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    (result,) = evaluate([recipe], data, store=url)
    return RunStore.open(url), result


def brute_force(store: RunStore, eval_id: str, n: int) -> tuple[float, float]:
    """Majority (ties: first seen) and oracle accuracy over every n-subset, by hand."""
    row = EvalStore(store).get(eval_id)
    majority = oracle = 0.0
    for item in row.item_rows:
        run = store.get_run(item.run_id)
        answers = [c.answer for c in run.candidates if c.stage == "1-sample"]
        hits_m = hits_o = 0
        combos = list(itertools.combinations(range(len(answers)), n))
        for combo in combos:
            picked = [answers[i] for i in combo]
            counts = Counter(picked)
            top = max(counts.values())
            winner = next(a for a in picked if counts[a] == top)
            hits_m += winner == item.reference
            hits_o += item.reference in picked
        majority += hits_m / len(combos)
        oracle += hits_o / len(combos)
    return majority / len(row.item_rows), oracle / len(row.item_rows)


def test_the_curve_equals_brute_force_over_every_subset(stored):
    store, result = stored
    curve = scaling_curve(store, result.eval_id, ["majority:tie_break=first"],
                          ns=[1, 2, 3, 4, 5], subsets=1000)  # every combination
    calls_before = sum(r.calls for r in store.list_runs(limit=None))
    for point, oracle in zip(curve.curve("majority:tie_break=first").points,
                             curve.curve("oracle").points, strict=True):
        expected_majority, expected_oracle = brute_force(store, result.eval_id, point.n)
        assert point.accuracy == pytest.approx(expected_majority, abs=1e-12)
        assert oracle.accuracy == pytest.approx(expected_oracle, abs=1e-12)
    at_full = curve.curve("majority:tie_break=first").points[-1]
    assert at_full.accuracy == pytest.approx(result.summary.accuracy)  # N_max is the eval
    assert at_full.spread == 0.0
    assert len(store.list_runs(limit=None)) == 12  # no run made
    assert sum(r.calls for r in store.list_runs(limit=None)) == calls_before


def test_sampled_subsets_are_seeded_and_estimate_the_exact_value(stored):
    store, result = stored
    exact = scaling_curve(store, result.eval_id, ["majority"], ns=[3], subsets=1000)
    a = scaling_curve(store, result.eval_id, ["majority"], ns=[3], subsets=4, seed=1)
    b = scaling_curve(store, result.eval_id, ["majority"], ns=[3], subsets=4, seed=1)
    assert a == b
    assert a.curve("majority").points[0].subsets == 4
    assert a.curve("majority").points[0].accuracy == pytest.approx(
        exact.curve("majority").points[0].accuracy, abs=0.25)


def test_a_selector_that_needs_the_model_is_reported_not_run(stored):
    store, result = stored
    curve = scaling_curve(store, result.eval_id, ["usc", "first"], ns=[2])
    assert curve.curve("usc").error and "no model calls" in curve.curve("usc").error
    assert not curve.curve("first").error and curve.curve("first").points


def test_bad_selector_specs_are_usage_errors(stored):
    from ttc.errors import UsageError

    store, result = stored
    with pytest.raises(UsageError, match="did you mean 'majority'"):
        scaling_curve(store, result.eval_id, ["majorty"])
    with pytest.raises(UsageError, match="tie_break"):
        scaling_curve(store, result.eval_id, ["majority:tie_break=never"])
    with pytest.raises(UsageError, match="between 1 and 5"):
        scaling_curve(store, result.eval_id, ["majority"], ns=[6])


def test_compare_pairs_items_and_reports_mcnemar(write_recipe, stored, tmp_path):
    store, voted = stored
    (first,) = evaluate([write_recipe(FIRST, "first.yaml")], tmp_path / "set.jsonl",
                        store=store)
    (comparison,) = compare(store, [first.eval_id, voted.eval_id])
    a = {i.id: i.correct for i in first.items}
    b = {i.id: i.correct for i in voted.items}
    wins = sum(1 for k in a if b[k] and not a[k])
    losses = sum(1 for k in a if a[k] and not b[k])
    assert comparison.shared == 12
    assert (comparison.paired.wins, comparison.paired.losses) == (wins, losses)
    assert comparison.paired.difference == pytest.approx(
        voted.summary.accuracy - first.summary.accuracy)
    assert comparison.paired.interval.low <= comparison.paired.difference \
        <= comparison.paired.interval.high
    if not comparison.paired.significant:
        assert comparison.verdict.startswith("not significant")


def test_plots_are_written_as_png_and_standalone_html(stored, tmp_path):
    store, result = stored
    curve = scaling_curve(store, result.eval_id, ["majority", "first"])
    png = write_plot(tmp_path / "curve.png", [curve], [result.summary])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    html = write_plot(tmp_path / "curve.html", [curve], [result.summary]).read_text()
    assert "vega" in html and "rotating-vote" in html and "majority" in html
    assert "oracle" in html


def test_the_cli_prints_the_curve_and_the_comparison(stored, tmp_path, write_recipe):
    store, result = stored
    env = {**os.environ, "TTC_DISABLE_ENTRY_POINTS": "1", "COLUMNS": "200"}
    db = store.url

    def ttc(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ttc", *args, "--db", db],
                              capture_output=True, text=True, env=env, timeout=120)

    proc = ttc("scaling", result.eval_id, "-s", "majority", "-s", "borda:p=2", "--plot",
               str(tmp_path / "c.png"))
    assert proc.returncode == 0, proc.stderr
    assert "N=1" in proc.stdout and "N=5" in proc.stdout and "oracle" in proc.stdout
    assert (tmp_path / "c.png").exists()
    (other,) = evaluate([write_recipe(FIRST, "first.yaml")], tmp_path / "set.jsonl",
                        store=store)
    proc = ttc("compare", other.eval_id, result.eval_id, "--json")
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)
    assert {"difference", "interval", "wins", "losses", "p_value", "verdict"} <= set(row)
