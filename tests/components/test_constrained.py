"""The constrained-decoding branch of structured replies (``plugins/structured/ask.py``).

The scripted runtime plus ``Capability.CONSTRAINED`` stands in for a constrained decoder (the
local engine's own is tested in tests/server/test_constrained_decoding.py) and checks every
constrained request it gets: the scripted reply
must fully match the regex / validate against the schema, as a real constrained decoder would
guarantee. Violations are collected, not raised, so a test sees all of them.
"""

from __future__ import annotations

import json
import re
from typing import ClassVar

import jsonschema
import pytest
from scripted_support import CallLog, run_scripted

from ttc import hookimpl
from ttc.plugins.prompts import ranker as ranker_prompts
from ttc.plugins.prompts.verifier import VERDICT_REGEX
from ttc.plugins.runtimes.scripted import ScriptedRuntime
from ttc.runtime import Capability, Completion, GenerateRequest

CRITIC = "careful reviewer"
RANK = "Rank them"
VERDICT = "Reply with [Correct] or [Incorrect]"
UT_EVAL = "passes the unit test"
PAIR = "Which of the two"


class ConstrainedRuntime(ScriptedRuntime):
    """Scripted replies, declared as decoded under the request's regex / JSON schema."""

    name: ClassVar[str] = "constrained"
    capabilities = ScriptedRuntime.capabilities | {Capability.CONSTRAINED}
    violations: ClassVar[list[str]] = []

    async def generate(self, request: GenerateRequest) -> list[Completion]:
        completions = await super().generate(request)
        for completion in completions:
            text = completion.text
            if request.regex is not None and re.fullmatch(request.regex, text) is None:
                self.violations.append(f"{text!r} does not match {request.regex!r}")
            if request.json_schema is not None:
                try:
                    jsonschema.validate(json.loads(text), json.loads(request.json_schema))
                except (ValueError, jsonschema.ValidationError) as error:
                    self.violations.append(f"{text!r} violates the schema: {error}")
        return completions


class BlindConstrainedRuntime(ConstrainedRuntime):
    """Constrained, but no logprobs of chosen tokens: the Yes/No verifier must decode."""

    name: ClassVar[str] = "constrained-blind"
    capabilities = frozenset({Capability.SAMPLES, Capability.SEED, Capability.CONSTRAINED})


class Runtimes:
    @hookimpl
    def ttc_register_runtimes(self, register) -> None:
        register(ConstrainedRuntime)
        register(BlindConstrainedRuntime)


@pytest.fixture(autouse=True)
def _no_violations():
    ConstrainedRuntime.violations.clear()
    yield
    assert ConstrainedRuntime.violations == []


def run(stages, rules, responses, runtime="constrained", **kw):
    return run_scripted(stages, rules=rules, responses=responses, runtime=runtime,
                        plugins=[Runtimes()], **kw)


def requests(log: CallLog, component: str) -> list[GenerateRequest]:
    return [c.request for c in log.calls
            if c.component == component and c.kind == "generate"]  # type: ignore[misc]


CRITIQUES_JSON = json.dumps({"critiques": [
    {"strengths": "s1", "weaknesses": "w1"}, {"strengths": "s2", "weaknesses": "w2"},
    {"strengths": "s3", "weaknesses": "w3"}]})


def test_a_list_critic_sends_a_json_schema_and_needs_one_call():
    result, log = run([{"use": "generator", "samples": 3}, {"use": "critic", "parse_retries": 5}],
                      rules=[(CRITIC, [CRITIQUES_JSON])], responses=["a", "b", "c"])
    (request,) = requests(log, "critic")
    assert request.regex is None and request.json_schema is not None
    assert json.loads(request.json_schema)["properties"]["critiques"]["minItems"] == 3
    assert [c.feedback["critique"] for c in result.pool] == [
        f"Strengths: s{i}\nWeaknesses: w{i}" for i in (1, 2, 3)]
    assert not [k for k in result.artifacts if k.startswith("parse_failures")]


def test_an_each_critic_sends_one_schema_call_per_candidate():
    one = json.dumps({"critiques": [{"strengths": "fine", "weaknesses": "none"}]})
    result, log = run([{"use": "generator", "samples": 2},
                       {"use": "critic", "mode": "each", "parse_retries": 5}],
                      rules=[(CRITIC, [one])], responses=["a", "b"])
    sent = requests(log, "critic")
    assert len(sent) == 2 and all(r.json_schema and r.regex is None for r in sent)
    assert all(c.feedback["critique"] == "Strengths: fine\nWeaknesses: none"
               for c in result.pool)


def test_a_listwise_ranker_sends_the_ranking_regex_and_needs_one_call():
    result, log = run([{"use": "generator", "samples": 3},
                       {"use": "ranker", "top_k": 2, "parse_retries": 5}],
                      rules=[(RANK, ["[3] > [1] > [2]"])], responses=["a", "b", "c"])
    (request,) = requests(log, "ranker")
    assert request.regex == ranker_prompts.list_regex(3) and request.json_schema is None
    assert [c.text for c in result.pool] == ["c", "a"]


def test_a_pairwise_ranker_sends_a_or_b():
    result, log = run([{"use": "generator", "samples": 3},
                       {"use": "ranker", "top_k": 3, "mode": "pairwise", "parse_retries": 5}],
                      rules=[(PAIR, ["B"])], responses=["a", "b", "c"])
    sent = requests(log, "ranker")
    assert len(sent) == 3 and {r.regex for r in sent} == {"A|B"}
    assert [c.text for c in result.pool] == ["c", "b", "a"]  # the later one always wins


def test_verifier_verdicts_are_constrained_and_the_reasoning_is_not():
    result, log = run([{"use": "generator", "samples": 2}, {"use": "verifier", "parse_retries": 5}],
                      rules=[(f"{VERDICT} only.\n\nQuery: What is 6*7?\n\nResponse: b",
                              ["[Correct]"]), (VERDICT, ["[Incorrect]"]),
                             ("Think step by step", ["reasons"])],
                      responses=["a", "b"])
    sent = requests(log, "verifier")
    assert len(sent) == 4  # reasoning + verdict per candidate, no re-asks
    assert sorted(str(r.regex) for r in sent) == ["None", "None", VERDICT_REGEX, VERDICT_REGEX]
    assert [c.text for c in result.pool] == ["b"]


def test_unit_test_verdicts_are_constrained():
    stages = [{"use": "unit_test_generator", "unit_test_cap": 2},
              {"use": "generator", "samples": 2},
              {"use": "unit_test_evaluator", "parse_retries": 5}]
    rules = [("Write 2 unit tests", ["1. test one\n2. test two"]), (UT_EVAL, ["[Passed]"])]
    result, log = run(stages, rules=rules, responses=["a", "b"])
    sent = requests(log, "unit_test_evaluator")
    assert len(sent) == 4 and {r.regex for r in sent} == {r"\[(Passed|Failed)\]"}
    assert [c.scores["unit_tests_passed"] for c in result.pool] == [2.0, 2.0]


def test_self_refine_done_flag_is_a_json_schema():
    done = json.dumps({"done": True, "feedback": "good"})
    result, log = run([{"use": "generator"}, {"use": "self_refine", "iterations": 2}],
                      rules=[("Review the answer", [done])], responses=["a"])
    (request,) = requests(log, "self_refine")  # done at once: one feedback call, no revision
    assert request.json_schema is not None and json.loads(request.json_schema)[
        "required"] == ["done", "feedback"]
    assert [c.text for c in result.pool] == ["a"]


def test_a_yes_no_verifier_without_logprobs_decodes_one_constrained_token():
    result, log = run([{"use": "generator", "samples": 2}, {"use": "yes_no_verifier"}],
                      rules=[("Proposed answer: a", ["Yes"]), ("Proposed answer: b", ["No"])],
                      responses=["a", "b"], runtime="constrained-blind")
    sent = requests(log, "yes_no_verifier")
    assert [(r.regex, r.params.max_tokens) for r in sent] == [("Yes|No", 1)] * 2
    assert [c.scores["yes_no"] for c in result.pool] == [1.0, 0.0]


def test_without_the_capability_no_constraint_is_sent():
    stages = [{"use": "unit_test_generator", "unit_test_cap": 1},
              {"use": "generator", "samples": 2}, {"use": "critic"},
              {"use": "critic", "mode": "each"}, {"use": "verifier"},
              {"use": "unit_test_evaluator"}, {"use": "ranker", "top_k": 2},
              {"use": "ranker", "top_k": 2, "mode": "pairwise"},
              {"use": "self_refine", "iterations": 1}]
    _, log = run_scripted(stages, rules=[("Write 1 unit tests", ["1. a test"])],
                          responses=["a", "b"])
    generates = [c.request for c in log.calls if c.kind == "generate"]
    assert {c.component for c in log.calls} >= {"critic", "verifier", "ranker",
                                                 "unit_test_evaluator", "self_refine"}
    assert all(r.regex is None and r.json_schema is None for r in generates)  # type: ignore[union-attr]
