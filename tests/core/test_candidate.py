import dataclasses

import pytest

from ttc.candidate import Candidate, Origin, TokenStats, candidate_id


def test_candidate_is_immutable_and_annotations_keep_its_id():
    c = Candidate(id="c-1", text="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.text = "y"  # type: ignore[misc]
    scored = c.with_scores(mbr=0.5).with_feedback("critic", "too short")
    assert scored.id == c.id
    assert dict(scored.scores) == {"mbr": 0.5}
    assert dict(scored.feedback) == {"critic": "too short"}
    assert dict(c.scores) == {}  # the original is untouched
    with pytest.raises(TypeError):
        scored.scores["mbr"] = 1.0  # type: ignore[index]


def test_round_trip_through_dict_is_lossless():
    c = Candidate(
        id="c-2",
        text="the answer is 4",
        answer="4",
        parents=("c-1",),
        origin=Origin(stage="1-sample", component="sample", model="m", seed=7, sample_index=2),
        tokens=TokenStats(ids=(1, 2), logprobs=(-0.5, -0.25),
                          top_logprobs=(((1, -0.5),), ((2, -0.25),)),
                          entropy=(1.0, 0.5), kl_uniform=(2.0, 3.0), runtime="local"),
        scores={"x": 1.0},
        finish_reason="stop",
    )
    again = Candidate.from_dict(c.to_dict())
    assert again == Candidate.from_dict(again.to_dict())
    assert again.to_dict() == c.to_dict()
    assert again.tokens is not None and again.tokens.mean_logprob == pytest.approx(-0.375)


def test_candidate_ids_are_stable_and_distinct():
    assert candidate_id(1, "a", 0) == candidate_id(1, "a", 0)
    assert candidate_id(1, "a", 0) != candidate_id(1, "a", 1)
