"""Evals for the UI tests.

``record_evals`` runs real evals on the scripted runtime (about a second each): a majority
vote over 8 rotating answers, the same candidates picked first, greedy (one candidate) and a
vote on another data set. ``write_listed_evals`` writes eval rows through ``EvalStore`` with
no run behind them, to fill a large store quickly for paging tests.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import update

from ttc.plugins.evaluation.results import EvalSummary
from ttc.plugins.evaluation.statistics import wilson
from ttc.storage import RunStore
from ttc.storage.evals import EvalStore, NewEval
from ttc.storage.models import EvalItemRow

VOTE = """\
name: rotating-vote
task: number
models:
  s: {runtime: scripted, options: {responses: ["1", "2", "2", "3", "7", "2", "1"],
                                   rotate_by_seed: true}}
stages:
  - use: sample
    n: 8
select: {use: majority, tie_break: first}
"""
FIRST = VOTE.replace("name: rotating-vote", "name: rotating-first").replace(
    "{use: majority, tie_break: first}", "{use: first}")
GREEDY = VOTE.replace("name: rotating-vote", "name: greedy").replace("n: 8", "n: 1")

ITEMS = 24


def write_dataset(path: Path, items: int, prefix: str = "q") -> Path:
    path.write_text("".join(json.dumps({"id": f"{prefix}{i}", "prompt": f"question {i}",
                                        "reference": str(1 + i % 3)}) + "\n"
                            for i in range(items)))
    return path


def record_evals(url: str, folder: Path) -> dict[str, str]:
    """Eval ids by name: ``vote``, ``first``, ``greedy`` (same 24 items), ``vote_seed1`` (the
    vote again with seed 1) and ``other`` (a vote on 3 other items)."""
    from ttc.plugins.evaluation import evaluate

    data = write_dataset(folder / "set.jsonl", ITEMS)
    recipes = []
    for name, text in (("vote", VOTE), ("first", FIRST), ("greedy", GREEDY)):
        recipes.append(folder / f"{name}.yaml")
        recipes[-1].write_text(text)
    vote, first, greedy = evaluate(recipes, data, store=url)
    (vote_seed1,) = evaluate([recipes[0]], data, store=url, seed=1)
    (other,) = evaluate([recipes[0]], write_dataset(folder / "other.jsonl", 3, "z"),
                        store=url)
    return {"vote": vote.eval_id, "first": first.eval_id, "greedy": greedy.eval_id,
            "vote_seed1": vote_seed1.eval_id, "other": other.eval_id}


def write_listed_evals(url: str, count: int, items: int = 4, *,
                       finished: bool = True) -> list[str]:
    """``count`` evals (recipes ``recipe-0..2``, data sets ``set-a``/``set-b``, seed = index)
    of ``items`` items each; a finished one has every third item wrong. Ids, oldest first."""
    evals = EvalStore(RunStore.open(url))
    ids = []
    for i in range(count):
        eval_id = evals.create(NewEval(
            name=f"listed {i}", recipe_name=f"recipe-{i % 3}", recipe_text=VOTE,
            recipe_hash="h", recipe_source="", dataset="set-a" if i % 2 else "set-b",
            dataset_hash="d", seed=i, key=f"listed-{i}", options={},
            items=[(f"q{j}", "1") for j in range(items)]))
        ids.append(eval_id)
        if finished:
            _grade_all(evals, eval_id, items)
    return ids


def _grade_all(evals: EvalStore, eval_id: str, items: int) -> None:
    def work(session: object) -> None:
        for wrong in (True, False):
            session.execute(update(EvalItemRow).where(
                EvalItemRow.eval_id == eval_id,
                (EvalItemRow.seq % 3 == 0) if wrong else (EvalItemRow.seq % 3 != 0),
            ).values(status="succeeded", correct=not wrong, answer="2" if wrong else "1",
                     prompt_tokens=10, completion_tokens=5, calls=1))

    evals.store.write(work)
    wrong = -(-items // 3)
    correct = items - wrong
    summary = EvalSummary(
        eval_id=eval_id, recipe="listed", dataset="set", seed=0, items=items, graded=items,
        correct=correct, accuracy=correct / items, interval=wilson(correct, items),
        prompt_tokens_per_item=10.0, completion_tokens_per_item=5.0,
        cached_tokens_per_item=0.0, calls_per_item=1.0, wall_time=1.0, cache_hit_ratio=0.0,
        failed=0)
    evals.finish(eval_id, "finished", summary.to_dict(), 1.0)
