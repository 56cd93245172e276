"""The kit catches each rule a component can break, says which and how to fix it; its
fixtures run recipes and record them without touching the user's store."""

from __future__ import annotations

import random
from typing import Any

import pytest
from pydantic import Field

from ttc import Component, ComponentConfig, Effect, Selection, Selector
from ttc.testing import (
    ConformanceError,
    check_component,
    check_config,
    check_coroutines,
    check_plugin,
)


class Upper(Component):
    """Upper-cases each candidate (a well-behaved producer)."""

    name = "upper"
    kind = "rewriter"
    effect = Effect.PRODUCES
    needs_candidates = True
    uses_model = False

    async def run(self, state, ctx):
        return state.with_pool(ctx.candidate(c.text.upper(), parents=(c.id,), sample_index=i)
                               for i, c in enumerate(state.pool))


class SyncSelect(Selector):
    """Picks the first candidate, written with a plain def."""

    name = "sync_select"

    def select(self, pool, ctx):  # the mistake
        return Selection(winner=pool[0].id, answer=pool[0].answer)


class UndocumentedConfig(ComponentConfig):
    width: int = 3


class Undocumented(Upper):
    """A producer whose parameter has no docstring."""

    name = "undocumented"
    Config = UndocumentedConfig


class PatternConfig(ComponentConfig):
    marker: Any = object()
    """A default that JSON cannot hold: no form for recipes or the UI."""


class NoJson(Upper):
    """A producer with a parameter JSON cannot hold."""

    name = "no_json"
    Config = PatternConfig


class Mutating(Component):
    """Appends to an artifact list in place."""

    name = "mutating"
    kind = "scorer"
    effect = Effect.ANNOTATES
    needs_candidates = True
    uses_model = False

    async def run(self, state, ctx):
        state.artifacts["log"].append("seen")
        return state


class Noisy(Upper):
    """Uses global randomness."""

    name = "noisy"

    async def run(self, state, ctx):
        return state.with_pool(ctx.candidate(f"{c.text} {random.random()}", parents=(c.id,),
                                             sample_index=i) for i, c in enumerate(state.pool))


class Rewriting(Component):
    """Claims to annotate but rewrites the text under the same id."""

    name = "rewriting"
    kind = "scorer"
    effect = Effect.ANNOTATES
    needs_candidates = True
    uses_model = False

    async def run(self, state, ctx):
        from dataclasses import replace

        return state.with_pool(replace(c, text=c.text + "!") for c in state.pool)


class Orphans(Upper):
    """Makes candidates from the pool without naming their parents."""

    name = "orphans"

    async def run(self, state, ctx):
        return state.with_pool(ctx.candidate(c.text.upper(), sample_index=i)
                               for i, c in enumerate(state.pool))


class Last(Selector):
    """Picks the last candidate: a rule about position."""

    name = "last"

    async def select(self, pool, ctx):
        return Selection(winner=pool[-1].id, answer=pool[-1].answer)


def test_a_well_behaved_producer_passes():
    run = check_component(Upper)
    assert run.state.pool[0].text == "THE ANSWER IS 5."


def test_a_plain_def_select_is_named_with_the_fix():
    with pytest.raises(ConformanceError, match=r"select\(\) is not 'async def'"):
        check_coroutines(SyncSelect)


def test_undocumented_and_non_json_parameters_are_refused():
    with pytest.raises(ConformanceError, match="parameter 'width' has no docstring"):
        check_config(Undocumented)
    with pytest.raises(ConformanceError, match="no JSON schema"):
        check_config(NoJson)


def test_mutating_the_input_is_caught():
    from ttc.testing import make_state

    state = make_state(["5"], artifacts={"log": []})
    with pytest.raises(ConformanceError, match="changed the state it was given"):
        check_component(Mutating, state)


def test_nondeterminism_is_caught():
    with pytest.raises(ConformanceError, match="same seed gave different outputs"):
        check_component(Noisy)


def test_an_annotator_that_rewrites_text_is_caught():
    with pytest.raises(ConformanceError, match="kept its id but its text"):
        check_component(Rewriting)


def test_a_producer_without_parents_is_caught():
    with pytest.raises(ConformanceError, match="has no parents"):
        check_component(Orphans)


def test_an_order_dependent_selector_is_caught_unless_declared():
    from ttc.testing import make_state

    state = make_state(["5", "6", "7"])
    with pytest.raises(ConformanceError, match="winner changes when the pool is"):
        check_component(Last, state)
    check_component(Last, state, order_invariant=False)


def test_check_plugin_reports_what_the_loader_would_refuse():
    class Plugin:
        @staticmethod
        def ttc_register_components(register):
            register(Upper)
            register(SyncSelect)

    with pytest.raises(ConformanceError, match=r"sync_select.*async def select"):
        check_plugin(Plugin(), name="mixed")


def test_fixtures_run_a_recipe_and_record_it(ttc_run_recipe, ttc_run_store, ttc_scripted):
    recipe = ("name: kit\nmodels: {m: {runtime: local}}\ntask: number\n"
              "stages: [{use: sample, n: 3}]\nselect: {use: majority}\n")
    result = ttc_run_recipe(recipe, "2 + 3?", responses=["5", "6", "5"],
                            store=ttc_run_store)
    assert result.status == "succeeded" and result.answer == "5"
    assert [r.id for r in ttc_run_store.list_runs()] == [result.run_id]
    assert ttc_scripted(["7"]).name == "scripted"


def test_fixture_recipe_without_models_gets_a_scripted_one(ttc_run_recipe):
    result = ttc_run_recipe({"name": "bare", "task": "number",
                             "stages": [{"use": "sample", "n": 2}]}, responses=["9"])
    assert result.answer == "9"


class Wide(ComponentConfig):
    n: int = Field(default=2, ge=1)
    """How many."""


def test_a_documented_config_passes():
    class Fine(Upper):
        """Fine."""

        name = "fine"
        Config = Wide

    check_config(Fine)
