"""Thousands of malformed recipes: the loader answers each with a RecipeError, never a crash."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ttc.errors import RecipeError
from ttc.pipeline import Pipeline

KEYS = ["name", "description", "models", "task", "seed", "limits", "stages", "select", "use",
        "model", "n", "repeat", "max_rounds", "until", "components", "runtime", "options",
        "temperature", "agreement", "score", "at_least", "keep", "bogus"]
VALUES = ["sample", "majority", "first", "scripted", "local", "number", "s", "", "nope"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
    st.sampled_from(VALUES), st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=5),
    ),
    max_leaves=20,
)
recipes = st.dictionaries(st.sampled_from(KEYS), values, max_size=8)


def _compile(text: str) -> None:
    try:
        Pipeline.from_text(text, "fuzz.yaml")
    except RecipeError as exc:
        assert exc.issues, "a RecipeError must carry at least one issue"
        for issue in exc.issues:
            assert issue.source == "fuzz.yaml" and issue.message


@settings(max_examples=700, deadline=None, suppress_health_check=list(HealthCheck))
@given(recipes)
def test_structured_garbage_never_crashes_the_loader(data):
    _compile(yaml.safe_dump(data))


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(alphabet=st.sampled_from(list("abc:-[]{}&*!|>'\"#\n\t 0123456789.,?%@`")),
               max_size=80))
def test_raw_text_never_crashes_the_loader(text):
    _compile(text)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["sample", "majority", "first"]),
       st.dictionaries(st.sampled_from(["n", "temperature", "max_tokens", "stop", "top_p",
                                        "keep", "tie_break", "hedged", "x"]), scalars,
                       max_size=4))
def test_parameter_garbage_on_real_components(component, params):
    stages = [{"use": "sample"}, {"use": component, **params}]
    _compile(yaml.safe_dump({"name": "f", "models": {"s": {"runtime": "scripted"}},
                             "stages": stages}))
