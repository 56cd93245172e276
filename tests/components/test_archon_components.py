"""Exact behaviour of the Archon components on the scripted runtime."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scripted_support import run_scripted

from ttc.plugins.rankers.ranking_parse import parse_ranking
from ttc.plugins.verifiers.archon_verifier import parse_verdict
from ttc.plugins.verifiers.unit_tests import parse_tests

CRITIC = "careful reviewer"
RANK = "Rank them"
FUSE = "combines their strengths"
THREE = ["[1] Strengths: s1 Weaknesses: w1\n[2] Strengths: s2 Weaknesses: w2\n"
         "[3] Strengths: s3 Weaknesses: w3"]


# --- generator ---------------------------------------------------------------------------

def test_several_generators_in_a_stage_form_an_ensemble_in_declaration_order():
    result, log = run_scripted([[{"use": "generator", "samples": 2},
                                 {"use": "generator", "samples": 1, "temperature": 0.0}]],
                               responses=["a", "b"])
    assert [c.text for c in result.pool] == ["a", "b", "a"]
    assert len({c.id for c in result.pool}) == 3
    assert [c.origin.component for c in result.pool] == ["generator"] * 3
    assert log.count("generator") == 2


# --- ranker --------------------------------------------------------------------------------

@given(st.lists(st.integers(-3, 12), max_size=15), st.integers(1, 9))
def test_a_repaired_ranking_is_always_a_permutation(indices, n):
    reply = " > ".join(f"[{i}]" for i in indices)
    order = parse_ranking(reply, n)
    if order is not None:
        assert sorted(order) == list(range(1, n + 1))
        valid = [i for i in dict.fromkeys(indices) if 1 <= i <= n]
        assert order[: len(valid)] == valid


def test_ranking_repair_expands_ranges_and_drops_duplicates():
    assert parse_ranking("[3-5] > [1] > [3] > [9]", 6) == [3, 4, 5, 1, 2, 6]
    assert parse_ranking("Answer: 2, 1", 3) == [2, 1, 3]
    assert parse_ranking("no idea", 3) is None


@pytest.mark.parametrize("top_k", [1, 2, 3, 5])
def test_ranker_keeps_exactly_top_k_as_a_prefix_of_the_ranking(top_k):
    result, _ = run_scripted(
        [{"use": "generator", "samples": 4}, {"use": "ranker", "top_k": top_k}],
        rules=[(RANK, ["[3] > [1] > [3] > [4]"])], responses=["a", "b", "c", "d"])
    assert [c.text for c in result.pool] == ["c", "a", "d", "b"][: min(top_k, 4)]
    # every candidate keeps its rank in the lineage, kept or not
    ranks = {c.text: c.scores["ranker"] for c in result.candidates.values() if "ranker" in c.scores}
    assert ranks == {"c": 4.0, "a": 3.0, "d": 2.0, "b": 1.0}


def test_an_unreadable_ranking_keeps_pool_order_and_is_recorded():
    result, log = run_scripted([{"use": "generator", "samples": 3},
                                {"use": "ranker", "top_k": 2, "parse_retries": 1}],
                               rules=[(RANK, ["I cannot decide"])], responses=["a", "b", "c"])
    assert result.status == "succeeded"
    assert [c.text for c in result.pool] == ["a", "b"]
    assert log.count("ranker") == 2  # one call and one retry, then give up


def test_pairwise_ranker_orders_by_wins():
    # "A" always wins: the earlier candidate of each pair beats the later one
    result, log = run_scripted([{"use": "generator", "samples": 3},
                                {"use": "ranker", "top_k": 3, "mode": "pairwise"}],
                               rules=[("Which of the two", ["A"])], responses=["a", "b", "c"])
    assert [c.text for c in result.pool] == ["a", "b", "c"]
    assert log.count("ranker") == 3


# --- critic and the stale-critique fix -------------------------------------------------------

def test_critic_attaches_each_critique_to_its_own_candidate():
    result, _ = run_scripted([{"use": "generator", "samples": 3}, {"use": "critic"}],
                             rules=[(CRITIC, THREE)], responses=["a", "b", "c"])
    by_text = {c.text: c.feedback["critique"] for c in result.pool}
    assert by_text == {"a": "Strengths: s1 Weaknesses: w1", "b": "Strengths: s2 Weaknesses: w2",
                       "c": "Strengths: s3 Weaknesses: w3"}


def test_critiques_follow_their_candidates_through_a_ranker():
    result, _ = run_scripted(
        [{"use": "generator", "samples": 3}, {"use": "critic"},
         {"use": "ranker", "top_k": 2, "use_critiques": True}],
        rules=[(CRITIC, THREE), (RANK, ["[3] > [1] > [2]"])], responses=["a", "b", "c"])
    assert [(c.text, c.feedback["critique"]) for c in result.pool] == [
        ("c", "Strengths: s3 Weaknesses: w3"), ("a", "Strengths: s1 Weaknesses: w1")]


def test_after_a_fuser_the_ranker_sees_no_critiques_unless_a_critic_runs_again():
    stages = [{"use": "generator", "samples": 3}, {"use": "critic"},
              [{"use": "fuser"}, {"use": "fuser"}, {"use": "fuser"}],
              {"use": "ranker", "top_k": 2, "use_critiques": True}]
    rules = [(CRITIC, THREE), (RANK, ["[2] > [1] > [3]"]), (FUSE, ["fused"])]
    result, log = run_scripted(stages, rules=rules, responses=["a", "b", "c"])
    (ranker_prompt,) = log.prompts("ranker")
    assert "Critique" not in ranker_prompt and "s1" not in ranker_prompt
    assert all(not c.feedback for c in result.pool)
    # the fusers saw the critiques of the candidates they fused
    assert all("Strengths: s1" in p for p in log.prompts("fuser"))
    # with a critic after the fuser, the ranker sees the new critiques
    fresh = [(CRITIC, ["[1] Strengths: n1\n[2] Strengths: n2\n[3] Strengths: n3"]),
             *rules[1:]]
    stages2 = [*stages[:3], {"use": "critic"}, stages[3]]
    _, log2 = run_scripted(stages2, rules=fresh, responses=["a", "b", "c"])
    (ranker_prompt,) = log2.prompts("ranker")
    assert "n1" in ranker_prompt and "s1" not in ranker_prompt


def test_with_use_critiques_false_no_critique_text_is_sent():
    _, log = run_scripted([{"use": "generator", "samples": 3}, {"use": "critic"},
                           {"use": "ranker", "top_k": 2, "use_critiques": False},
                           {"use": "fuser", "use_critiques": False}],
                          rules=[(CRITIC, THREE), (RANK, ["[1] > [2]"]), (FUSE, ["f"])],
                          responses=["a", "b", "c"])
    for prompt in log.prompts("ranker") + log.prompts("fuser"):
        assert "Strengths" not in prompt and "Critique" not in prompt


def test_a_critic_reply_missing_candidates_attaches_what_it_has_and_records_failure():
    result, log = run_scripted([{"use": "generator", "samples": 3},
                                {"use": "critic", "parse_retries": 1}],
                               rules=[(CRITIC, ["[2] Strengths: only two"])],
                               responses=["a", "b", "c"])
    assert result.status == "succeeded"
    assert [dict(c.feedback) for c in result.pool] == [
        {}, {"critique": "Strengths: only two"}, {}]
    assert log.count("critic") == 2


def test_critic_each_mode_calls_once_per_candidate_with_candidate_text_last():
    result, log = run_scripted([{"use": "generator", "samples": 2},
                                {"use": "critic", "mode": "each"}],
                               rules=[(CRITIC, ["Strengths: ok Weaknesses: none"])],
                               responses=["a", "b"])
    prompts = log.prompts("critic")
    assert len(prompts) == 2
    assert prompts[0].split("Response:")[0] == prompts[1].split("Response:")[0]
    assert all(c.feedback["critique"].startswith("Strengths") for c in result.pool)


# --- fuser ---------------------------------------------------------------------------------

def test_fuser_makes_new_candidates_whose_parents_are_the_whole_pool():
    result, _ = run_scripted([{"use": "generator", "samples": 3},
                              {"use": "fuser", "samples": 2}],
                             rules=[(FUSE, ["one fused answer"])], responses=["a", "b", "c"])
    parents = {c.id for c in result.candidates.values() if c.text in "abc"}
    assert len(result.pool) == 2
    assert all(set(c.parents) == parents and not c.feedback for c in result.pool)


def test_length_control_caps_output_at_the_longest_input():
    result, _ = run_scripted([{"use": "generator", "samples": 2},
                              {"use": "fuser", "length_control": True}],
                             rules=[(FUSE, ["w " * 50])], responses=["x y z", "x y"])
    (fused,) = result.pool
    assert fused.tokens.count == 3 and fused.finish_reason == "length"


# --- verifier ------------------------------------------------------------------------------

VERDICT = "Reply with [Correct] or [Incorrect]"


def test_verifier_keeps_the_passes():
    result, _ = run_scripted(
        [{"use": "generator", "samples": 3}, {"use": "verifier"}],
        rules=[(f"{VERDICT} only.\n\nQuery: What is 6*7?\n\nResponse: b", ["[Correct]"]),
               (VERDICT, ["[Incorrect]"])], responses=["a", "b", "c"])
    assert [c.text for c in result.pool] == ["b"]
    assert result.pool[0].scores["verifier"] == 1.0


def test_verifier_with_no_passes_returns_the_input_unchanged():
    stages = [{"use": "generator", "samples": 3}]
    before, _ = run_scripted(stages, responses=["a", "b", "c"])
    after, _ = run_scripted([*stages, {"use": "verifier"}],
                            rules=[(VERDICT, ["[Incorrect]"])], responses=["a", "b", "c"])
    assert [c.to_dict() for c in after.pool] == [c.to_dict() for c in before.pool]


def test_verifier_first_k_stops_calling_after_k_passes():
    _, log = run_scripted([{"use": "generator", "samples": 5},
                           {"use": "verifier", "first_k": 2}],
                          rules=[(VERDICT, ["[Correct]"])], responses=list("abcde"))
    # two candidates checked, two calls each (reasoning, verdict)
    assert log.count("verifier") == 4


def test_an_unreadable_verdict_is_retried_then_counted_as_a_fail():
    result, log = run_scripted([{"use": "generator", "samples": 1},
                                {"use": "verifier", "parse_retries": 2}],
                               rules=[(VERDICT, ["maybe"])], responses=["a"])
    assert result.status == "succeeded" and log.count("verifier") == 1 + 3


def test_parse_verdict():
    assert parse_verdict("[Correct]") is True
    assert parse_verdict("[Incorrect]") is False
    assert parse_verdict("Incorrect, because") is False
    assert parse_verdict("dunno") is None


# --- yes/no verifier and self_eval ----------------------------------------------------------

def test_yes_no_scores_are_probabilities_and_swapping_labels_gives_one_minus():
    stages = [{"use": "generator", "samples": 3}]
    a, _ = run_scripted([*stages, {"use": "yes_no_verifier", "yes_tokens": ["Yes", "yes"],
                                   "no_tokens": ["No", "no"]}], responses=["a", "b", "c"])
    b, _ = run_scripted([*stages, {"use": "yes_no_verifier", "yes_tokens": ["No", "no"],
                                   "no_tokens": ["Yes", "yes"]}], responses=["a", "b", "c"])
    for x, y in zip(a.pool, b.pool, strict=True):
        s = x.scores["yes_no"]
        assert 0.0 <= s <= 1.0
        assert y.scores["yes_no"] == pytest.approx(1 - s)


def test_self_eval_is_one_scored_call_whose_prompt_extends_the_conversation():
    result, log = run_scripted([{"use": "generator", "samples": 2}, {"use": "self_eval"}],
                               responses=["a", "b"])
    (call,) = [c for c in log.calls if c.component == "self_eval"]
    assert call.kind == "score" and len(call.request) == 2
    generation_prompt = log.prompts("generator")[0]
    assert all(r.prompt.startswith(generation_prompt) for r in call.request)
    assert all(0 <= c.scores["self_eval"] <= 1 for c in result.pool)


def test_self_eval_score_ends_a_repeat_block():
    stages = [{"use": "generator", "samples": 1},
              {"repeat": {"max_rounds": 3, "until": {"score": "self_eval", "at_least": 0.0},
                          "stages": [{"use": "wait_continuation", "max_new_tokens": 4},
                                     {"use": "self_eval"}]}}]
    _result, log = run_scripted(stages, responses=["a"])
    assert log.count("wait_continuation") == 1  # the threshold was met after round 1


# --- unit tests ----------------------------------------------------------------------------

UT_GEN = "Write 3 unit tests"
UT_EVAL = "passes the unit test"


def test_unit_tests_are_an_artifact_and_the_prompt_is_never_changed():
    result, log = run_scripted(
        [{"use": "unit_test_generator", "unit_test_cap": 3}, {"use": "generator"}],
        rules=[(UT_GEN, ["1. says 42\n2. is short\n3. is polite\n4. extra"])])
    assert log.prompts("generator")[0] == "<user>What is 6*7?</user>\n<assistant>"
    assert result.task.prompt == "What is 6*7?"


def test_parse_tests_strips_numbering_and_caps():
    assert parse_tests("1. a b\n- c d\nUnit test 3: e f\n\n", 2) == ["a b", "c d"]


def test_unit_test_evaluator_ranks_by_tests_passed():
    stages = [{"use": "unit_test_generator", "unit_test_cap": 2},
              {"use": "generator", "samples": 3},
              {"use": "unit_test_evaluator", "top_k": 2}]
    rules = [("Write 2 unit tests", ["1. mentions good\n2. mentions great"]),
             ("Response: good great\n\nUnit test", ["[Passed]"]),
             ("Response: good\n\nUnit test: mentions good", ["[Passed]"]),
             (UT_EVAL, ["[Failed]"])]
    result, _ = run_scripted(stages, rules=rules, responses=["bad", "good", "good great"])
    assert [(c.text, c.scores["unit_tests_passed"]) for c in result.pool] == [
        ("good great", 2.0), ("good", 1.0)]


def test_unit_test_evaluator_first_k_stops_after_k_full_passes():
    stages = [{"use": "unit_test_generator", "unit_test_cap": 2},
              {"use": "generator", "samples": 4},
              {"use": "unit_test_evaluator", "first_k": 1}]
    rules = [("Write 2 unit tests", ["1. test one\n2. test two"]), (UT_EVAL, ["[Passed]"])]
    result, log = run_scripted(stages, rules=rules, responses=list("abcd"))
    assert [c.text for c in result.pool] == ["a"]
    assert log.count("unit_test_evaluator") == 2  # one candidate × two tests, then stop


# --- executed tests -------------------------------------------------------------------------

def test_executed_tests_rank_code_by_tests_passed_in_the_sandbox():
    good = "```python\ndef add(a, b):\n    return a + b\n```"
    half = "```python\ndef add(a, b):\n    return 5\n```"
    result, _ = run_scripted(
        [{"use": "generator", "samples": 3},
         {"use": "executed_tests", "tests": ["assert add(2, 3) == 5", "assert add(1, 1) == 2"],
          "timeout_s": 5}],
        responses=["while True: pass", half, good])
    assert [c.scores["tests_passed"] for c in result.pool] == [1.0, 0.5, 0.0]


# --- fine-grained self-consistency fuser (docs/methods.md C3 variant) -----------------------------

CATS = ["the cat sat on the mat", "quantum chromodynamics on a lattice",
        "the cat sat on a mat", "a cat sat on the mat"]


def test_subset_fuser_fuses_only_the_mutually_similar_candidates():
    result, log = run_scripted([{"use": "generator", "samples": 4},
                                {"use": "fuser", "subset_k": 3}],
                               rules=[(FUSE, ["fused"])], responses=CATS)
    (prompt,) = log.prompts("fuser")
    assert "quantum" not in prompt
    # the subset keeps pool order and is numbered from 1
    assert "1. the cat sat on the mat\n\n2. the cat sat on a mat\n\n3. a cat sat on the mat" \
        in prompt
    (fused,) = result.pool
    by_text = {c.text: c for c in result.candidates.values()}
    assert set(fused.parents) == {by_text[t].id for t in CATS if "quantum" not in t}
    scores = {t: by_text[t].scores["fsc_consensus"] for t in CATS}
    assert min(scores, key=scores.get) == CATS[1]


def test_subset_fuser_with_k_at_least_the_pool_fuses_everything():
    _, log = run_scripted([{"use": "generator", "samples": 4},
                           {"use": "fuser", "subset_k": 9}],
                          rules=[(FUSE, ["fused"])], responses=CATS)
    assert all(t in log.prompts("fuser")[0] for t in CATS)


def test_similar_subset_and_consensus():
    from ttc.plugins.fusers.fuser import consensus, similar_subset

    assert similar_subset([0.1, 0.9, 0.5, 0.9], 2) == [1, 3]
    assert similar_subset([0.5, 0.5, 0.5], 2) == [0, 1]  # ties: earlier first
    assert consensus(["only one"]) == [0.0]
    for metric in ("ngram_f1", "rouge_l", "chrf"):
        scores = consensus(CATS, metric)
        assert len(scores) == 4 and scores.index(min(scores)) == 1
