"""Exact behaviour of the refiners on the scripted runtime."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from scripted_support import component_context, run_scripted

from ttc.candidate import Candidate
from ttc.plugins.refiners.iad import IAD, TRACE, IADConfig
from ttc.plugins.refiners.self_refine import SelfRefine, SelfRefineConfig, parse_feedback
from ttc.state import State

FEEDBACK = "Review the answer"
REVISE = "Improve the answer"


def _state(task, texts):
    return State(task=task, pool=tuple(Candidate(id=f"c{i}", text=t) for i, t in enumerate(texts)))


def test_self_refine_with_zero_iterations_returns_the_input():
    ctx, log, task = component_context()
    state = _state(task, ["y0"])
    out = asyncio.run(SelfRefine(SelfRefineConfig(iterations=0)).run(state, ctx))
    assert out.pool == state.pool and not log.calls and not out.done


def test_self_refine_done_at_the_first_feedback_makes_one_call_and_no_revision():
    ctx, log, task = component_context(rules=[(FEEDBACK, ["DONE"])])
    out = asyncio.run(SelfRefine(SelfRefineConfig(iterations=3)).run(_state(task, ["y0"]), ctx))
    assert len(log.calls) == 1 and out.done
    assert [c.id for c in out.pool] == ["c0"] and out.pool[0].text == "y0"
    assert out.pool[0].feedback["self_refine"] == "DONE"


def test_self_refine_revisions_point_at_their_parents():
    ctx, log, task = component_context(rules=[(FEEDBACK, ["add units"]), (REVISE, ["y1"])])
    out = asyncio.run(SelfRefine(SelfRefineConfig(iterations=2)).run(_state(task, ["y0"]), ctx))
    assert len(log.calls) == 4 and not out.done
    (last,) = out.pool
    first = ctx.run_ctx.candidates[last.parents[0]]
    assert first.parents == ("c0",)
    # the second revision saw the first answer and its feedback (history)
    assert "Earlier answer: y0" in log.prompts()[-1]


def test_self_refine_done_ends_the_repeat_block():
    stages = [{"use": "generator"},
              {"repeat": {"max_rounds": 5, "stages": [{"use": "self_refine"}]}}]
    result, log = run_scripted(stages, rules=[(FEEDBACK, ["DONE."])], responses=["y0"])
    assert log.count("self_refine") == 1 and result.pool[0].text == "y0"


def test_parse_feedback():
    assert parse_feedback('{"done": true, "feedback": ""}') == (True, "")
    assert parse_feedback("DONE") == (True, "DONE")
    assert parse_feedback("Not done: fix it") == (False, "Not done: fix it")
    assert parse_feedback("   ") is None


def _iad(rounds, m=3, responses=("a", "b", "c"), refinements=("r1", "r2", "r3")):
    ctx, log, task = component_context(rules=[("Earlier attempts", list(refinements))],
                                       responses=list(responses))
    out = asyncio.run(IAD(IADConfig(m=m, rounds=rounds, temperature=1.0)).run(
        State(task=task), ctx))
    return out, ctx, log


@pytest.mark.parametrize("rounds", [1, 2, 4])
def test_iad_best_so_far_never_decreases(rounds):
    out, _ctx, _ = _iad(rounds)
    trace = out.artifacts[TRACE]
    assert len(trace) == rounds + 1
    assert all(a <= b for a, b in itertools.pairwise(trace))
    assert out.pool[0].scores["yes_no"] == trace[-1]
    assert len(out.pool) == 3


def test_iad_with_zero_rounds_is_best_of_n_under_the_verifier():
    out, _ctx, log = _iad(0)
    scores = [c.scores["yes_no"] for c in out.pool]
    assert scores == sorted(scores, reverse=True)
    assert {c.text for c in out.pool} == {"a", "b", "c"}
    assert out.pool[0].scores["yes_no"] == max(scores)
    assert [c.kind for c in log.calls] == ["generate", "score"]


def test_iad_refinements_name_best_and_worst_as_parents():
    _out, ctx, _ = _iad(1)
    refined = [c for c in ctx.run_ctx.candidates.values() if c.text.startswith("r")]
    assert len(refined) == 3 and all(len(c.parents) == 2 for c in refined)


def test_sequential_refine_chains_see_the_earlier_ones():
    result, log = run_scripted([{"use": "sequential_refine", "n": 3, "max_tokens": 8}],
                               responses=["x"])
    prompts = log.prompts("sequential_refine")
    assert len(prompts) == 3 and "Attempt" not in prompts[0]
    assert prompts[2].count("Attempt ") == 2
    assert [len(c.parents) for c in result.pool] == [0, 1, 2]
    assert all(c.scores["inverse_entropy"] > 0 for c in result.pool)
    # equal budget: no chain may exceed the per-chain max_tokens
    assert all(call.request.params.max_tokens == 8 for call in log.calls)


def test_sequential_refine_with_n_1_is_a_single_sample():
    result, log = run_scripted([{"use": "sequential_refine", "n": 1}], responses=["x"])
    assert len(result.pool) == 1 and len(log.calls) == 1


def test_wait_continuation_extends_the_original_and_points_at_it():
    result, log = run_scripted([{"use": "generator", "samples": 2},
                                {"use": "wait_continuation"}],
                               rules=[("Wait", ["actually 42"])], responses=["a", "b"])
    originals = {c.id: c for c in result.candidates.values() if c.origin.component == "generator"}
    for candidate in result.pool:
        (parent,) = candidate.parents
        assert candidate.text.startswith(originals[parent].text + "\n\nWait")
        assert candidate.text.endswith("actually 42")
    prompts = log.prompts("wait_continuation")
    assert prompts[0].startswith(log.prompts("generator")[0])  # continues the assistant turn
