"""MBR, GSC and USC (docs/methods.md S4, S5, S6), and end-to-end recipes on the scripted runtime."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sacrebleu import sentence_bleu, sentence_chrf
from selector_support import candidate, select

import ttc
from ttc.plugins.runtimes.scripted import ScriptedOptions, ScriptedRuntime
from ttc.plugins.selectors import similarity
from ttc.plugins.selectors.gsc import GSC
from ttc.plugins.selectors.majority import Majority, MajorityConfig
from ttc.plugins.selectors.mbr import MBR, MBRConfig, parse_score
from ttc.plugins.selectors.usc import USC, USCConfig, parse_choice
from ttc.plugins.tasks.builtin import LastNumber

VOCAB = ["the", "cat", "sat", "on", "a", "mat", "42", "is", ",", ".", "(", ")", "answer"]
WORDS = st.lists(st.sampled_from(VOCAB), max_size=25).map(" ".join)


@settings(max_examples=25, deadline=None)
@given(texts=st.lists(WORDS, min_size=2, max_size=6))
def test_vectorised_chrf_and_bleu_equal_sacrebleu(texts) -> None:
    chrf, bleu = similarity.chrf_matrix(texts), similarity.bleu_matrix(texts)
    for i, hyp in enumerate(texts):
        for j, ref in enumerate(texts):
            if i != j:
                assert chrf[i, j] == pytest.approx(sentence_chrf(hyp, [ref]).score, abs=1e-9)
                assert bleu[i, j] == pytest.approx(sentence_bleu(hyp, [ref]).score, abs=1e-9)


@pytest.mark.parametrize("limits", [
    {},  # the defaults: presence tables, dense counts, dense products
    {"_TABLE_LIMIT": 0, "_DENSE_COUNTS_LIMIT": 0, "_DENSE_PRODUCT_LIMIT": 0},  # sorts, sparse
    {"_DENSE_PRODUCT_LIMIT": 0},  # dense counts, sparse product
])
def test_every_counting_path_equals_sacrebleu(limits: dict, monkeypatch) -> None:
    for name, value in limits.items():
        monkeypatch.setattr(similarity, name, value)
    texts = ["Größe: 42 — naïve café, the answer is 42.", "the answer is 41 (café)", "",
             "ab ab ab ab ab ab ab abab", "42", "Größe naïve ab ab café 42 42 42 —"]
    chrf, bleu = similarity.chrf_matrix(texts), similarity.bleu_matrix(texts)
    f1 = similarity.ngram_f1_matrix(texts)
    for i, hyp in enumerate(texts):
        for j, ref in enumerate(texts):
            if i != j:
                assert chrf[i, j] == pytest.approx(sentence_chrf(hyp, [ref]).score, abs=1e-9)
                assert bleu[i, j] == pytest.approx(sentence_bleu(hyp, [ref]).score, abs=1e-9)
    assert f1[0, 1] == pytest.approx(f1[1, 0])


@settings(max_examples=50, deadline=None)
@given(seqs=st.lists(st.lists(st.integers(0, 6), max_size=30), min_size=1, max_size=6),
       n=st.integers(1, 4))
def test_ngram_matches_are_clipped_counts(seqs, n) -> None:
    from collections import Counter

    import numpy as np

    grams = [Counter(tuple(s[k:k + n]) for k in range(len(s) - n + 1)) for s in seqs]
    matches, totals = similarity.ngram_matches([np.array(s) for s in seqs], n)
    for i, gi in enumerate(grams):
        assert totals[i] == sum(gi.values())
        for j, gj in enumerate(grams):
            assert matches[i, j] == sum((gi & gj).values())


def _lcs(a: list[str], b: list[str]) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1],
                                                                     table[i + 1][j])
    return table[-1][-1]


@settings(max_examples=25, deadline=None)
@given(texts=st.lists(WORDS, min_size=2, max_size=5))
def test_rouge_l_is_the_lcs_f1(texts) -> None:
    u = similarity.rouge_l_matrix(texts)
    for i, hyp in enumerate(texts):
        for j, ref in enumerate(texts):
            if i == j:
                continue
            h, r = hyp.lower().split(), ref.lower().split()
            lcs = _lcs(h, r)
            expected = 0.0 if lcs == 0 else 2 * lcs / (len(h) + len(r))
            assert u[i, j] == pytest.approx(expected)


def test_the_diagonal_is_never_a_self_comparison() -> None:
    for matrix in (similarity.chrf_matrix, similarity.bleu_matrix, similarity.rouge_l_matrix,
                   similarity.ngram_f1_matrix):
        u = matrix(["a b c", "a b d", "x y z"])
        assert all(u[i, i] != u[i, i] for i in range(3))  # NaN


@settings(max_examples=50, deadline=None)
@given(answers=st.lists(st.sampled_from(["1", "2", "3", None]), min_size=1, max_size=9))
def test_mbr_exact_match_equals_majority_up_to_ties(answers) -> None:
    pool = [candidate(i, a) for i, a in enumerate(answers)]
    mbr = select(MBR(MBRConfig(utility="exact_match")), pool, LastNumber())
    majority = select(Majority(MajorityConfig(tie_break="first")), pool, LastNumber())
    if majority.winner is not None and len(pool) > 1:
        assert mbr.answer == majority.answer


@pytest.mark.parametrize("utility", ["exact_match", "chrf", "bleu", "rouge_l", "llm_judge"])
def test_mbr_with_one_candidate_returns_it(utility: str) -> None:
    runtime = ScriptedRuntime("judge", ScriptedOptions())
    selection = select(MBR(MBRConfig(utility=utility)), [candidate(0, "7")], LastNumber(),
                       runtime=runtime)
    assert selection.winner == "c0"
    assert runtime.calls == 0


@pytest.mark.parametrize("utility", ["chrf", "bleu", "rouge_l"])
def test_mbr_picks_the_consensus_text(utility: str) -> None:
    texts = ["the cat sat on the mat", "the cat sat on a mat", "a dog ran in the park today",
             "the cat sat on the mat today"]
    pool = [candidate(i, text=t) for i, t in enumerate(texts)]
    assert select(MBR(MBRConfig(utility=utility)), pool).winner in {"c0", "c1", "c3"}
    assert select(MBR(MBRConfig(utility=utility)), pool).order[-1] == "c2"


def test_mbr_model_weights_favour_probable_references() -> None:
    pool = [candidate(0, "1", logprobs=[-0.1]), candidate(1, "2", logprobs=[-9.0]),
            candidate(2, "2", logprobs=[-9.0]), candidate(3, "1", logprobs=[-0.1])]
    weighted = select(MBR(MBRConfig(utility="exact_match", weights="model")), pool, LastNumber())
    assert weighted.answer == "1"


class CountingJudge(ScriptedRuntime):
    """Scores 9 when candidate and reference agree on the answer, else 2; records prompts."""

    def __init__(self) -> None:
        super().__init__("judge", ScriptedOptions())
        self.prompts: list[str] = []

    async def generate(self, request):
        self.prompts.append(request.prompt)
        reference = request.prompt.split("# Reference response\n")[1].split("\n\n#")[0]
        answer = request.prompt.split("# Candidate response\n")[1].split("\n\n")[0]
        score = "9" if reference.split()[-1] == answer.split()[-1] else "2"
        (completion,) = await super().generate(request)
        from dataclasses import replace

        return [replace(completion, text=f"Score: {score}")]


def test_llm_judge_makes_n_times_n_minus_1_calls_grouped_by_reference() -> None:
    texts = ["so 4", "hence 5", "thus 4"]
    pool = [candidate(i, text=t) for i, t in enumerate(texts)]
    judge = CountingJudge()
    selection = select(MBR(MBRConfig(utility="llm_judge")), pool, runtime=judge)
    assert len(judge.prompts) == 6
    references = [p.split("# Reference response\n")[1].split("\n\n#")[0] for p in judge.prompts]
    candidates = [p.split("# Candidate response\n")[1].split("\n\n")[0] for p in judge.prompts]
    assert references == ["so 4", "so 4", "hence 5", "hence 5", "thus 4", "thus 4"]
    assert all(r != c for r, c in zip(references, candidates, strict=True))  # u(y_i, y_i)
    rubric_end = judge.prompts[0].index("# Candidate response")
    assert judge.prompts[1][:rubric_end] == judge.prompts[0][:rubric_end]  # shared prefix
    assert selection.winner == "c0"
    halved = CountingJudge()
    select(MBR(MBRConfig(utility="llm_judge", symmetric=True)), pool, runtime=halved)
    assert len(halved.prompts) == 3


def test_judge_scores_are_parsed_robustly() -> None:
    assert parse_score("Score: 7") == 7.0
    assert parse_score("I'd say 8/10.\nScore: 10") == 10.0
    assert parse_score("no idea") == 1.0


def test_gsc_an_identical_candidate_beats_the_outlier() -> None:
    same = "we add the two numbers and get 12"
    pool = [candidate(0, text="completely unrelated words about the weather"),
            *(candidate(i, text=same) for i in (1, 2, 3))]
    selection = select(GSC(), pool)
    assert selection.winner == "c1"
    assert selection.order[-1] == "c0"


@pytest.mark.parametrize(
    ("reply", "count", "expected"),
    [("The most consistent response is Response 3.", 4, 3),
     ("Response #2 is the most consistent", 4, 2),
     ("I pick response 9, no wait, Response 1", 4, 1),
     ("2", 3, 2), ("none of them", 3, None), ("Response 7", 3, None)],
)
def test_usc_index_parsing(reply: str, count: int, expected: int | None) -> None:
    assert parse_choice(reply, count) == expected


@pytest.mark.parametrize("shuffle_seed", [None, 1, 2])
def test_usc_winner_is_a_byte_identical_input_candidate(shuffle_seed) -> None:
    texts = ["first answer  \n", "second answer", "third\tanswer "]
    pool = [candidate(i, text=t) for i, t in enumerate(texts)]
    runtime = ScriptedRuntime("s", ScriptedOptions(
        responses=["The most consistent response is Response 2."]))
    selection = select(USC(USCConfig(shuffle_seed=shuffle_seed)), pool, runtime=runtime)
    winner = next(c for c in pool if c.id == selection.winner)
    shown = selection.details["shown"]
    assert winner.id == shown[1] and winner.text in texts
    assert runtime.calls == 1


def test_usc_falls_back_to_the_first_candidate_when_the_reply_names_none() -> None:
    runtime = ScriptedRuntime("s", ScriptedOptions(responses=["I cannot decide"]))
    pool = [candidate(0, text="a"), candidate(1, text="b")]
    selection = select(USC(), pool, runtime=runtime)
    assert selection.winner == "c0" and selection.details["parsed"] is False


# --- end to end ----------------------------------------------------------------------------

def _recipe(select_entry: dict, responses: list[str], **sample) -> dict:
    return {
        "name": "selectors-e2e",
        "models": {"m": {"runtime": "scripted", "options": {"responses": responses}}},
        "task": "number",
        "stages": [{"use": "sample", "n": len(responses), **sample}],
        "select": select_entry,
    }


RESPONSES = ["so it is 42", "maybe 41", "I think 42", "clearly 42", "guess 7"]


@pytest.mark.parametrize(
    "entry",
    [{"use": "self_certainty"}, {"use": "self_certainty", "source": "topk_lb"},
     {"use": "self_certainty", "position_mode": "reference"}, {"use": "borda"},
     {"use": "mbr", "utility": "exact_match"}, {"use": "mbr", "utility": "chrf"},
     {"use": "gsc"}, {"use": "perplexity_consistency"},
     {"use": "inverse_entropy_vote", "k": 5}, {"use": "usc"},
     {"use": "borda", "p": 0}],
    ids=lambda e: "-".join(str(v) for v in e.values()),
)
def test_selectors_run_end_to_end(entry: dict) -> None:
    pipeline = ttc.Pipeline.from_dict(_recipe(entry, RESPONSES, top_logprobs=5))
    result = pipeline.run("What is 6*7?")
    assert result.status == "succeeded", result.error
    assert result.winner is not None and result.winner.text in RESPONSES
    assert result.selection is not None and result.selection.scores


def test_voting_selectors_agree_with_majority_end_to_end() -> None:
    for entry in ({"use": "borda", "p": 0}, {"use": "mbr", "utility": "exact_match"},
                  {"use": "perplexity_consistency", "prune": False}):
        result = ttc.Pipeline.from_dict(_recipe(entry, RESPONSES)).run("What is 6*7?")
        assert result.answer == "42", entry


def test_an_unknown_certainty_source_is_a_recipe_error() -> None:
    from ttc.errors import RecipeError

    recipe = _recipe({"use": "self_certainty", "source": "topk_lb"}, RESPONSES)
    ttc.Pipeline.from_dict(recipe)
    with pytest.raises(RecipeError):
        ttc.Pipeline.from_dict({**recipe, "select": {"use": "self_certainty", "source": "x"}})
