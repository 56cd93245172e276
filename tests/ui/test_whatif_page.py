"""What-if: another selector re-uses every recorded call (zero model calls); a change that
needs calls says how many before making any, and makes them only when asked."""

from __future__ import annotations

import pytest

from ttc.storage import RunStore
from ttc.ui.whatif_page import reselected_recipe, try_change


def test_another_selector_replays_with_zero_model_calls(app, db_url, scripted_run) -> None:
    store = RunStore.open(db_url)
    at = app(db_url, "whatif", run=scripted_run)
    at.selectbox(key=f"whatif.selector.{scripted_run}").set_value("first").run()
    at.button(key="whatif.go").click().run()
    assert not at.exception
    (message,) = [s.value for s in at.success]
    assert message.startswith("Re-selected with no model call;")
    (what_if,) = [r for r in store.list_runs() if r.replay_of == scripted_run]
    calls = store.get_run(what_if.id).model_calls
    assert calls and all(c.replayed for c in calls)
    assert [h.value for h in at.subheader][-2:] == ["Recorded", "What-if"]
    shown = " ".join(m.value for m in at.markdown)
    assert "selector `{'use': 'majority'}`" in shown and "selector `{'use': 'first'}`" in shown


def test_a_change_that_needs_calls_is_counted_before_any_is_made(
        app, db_url, scripted_run) -> None:
    store = RunStore.open(db_url)
    recorded = store.get_run(scripted_run)
    at = app(db_url, "whatif", run=scripted_run)
    at.radio(key="whatif.mode").set_value("whole recipe (YAML)").run()
    at.text_area(key=f"whatif.text.{scripted_run}").set_value(
        recorded.recipe_text.replace("n: 3", "n: 4")).run()
    at.button(key="whatif.go").click().run()
    (warning,) = [w.value for w in at.warning]
    assert warning.startswith("This change needs at least 1 model call(s)")
    assert "stage 1-sample, component sample" in at.code[-1].value
    assert store.count_runs() == 1  # nothing was run or stored
    at.button(key="whatif.make_calls").click().run()
    (message,) = [s.value for s in at.success]
    assert message.startswith("Re-selected with ") and "model call(s)" in message
    (what_if,) = [r for r in store.list_runs() if r.replay_of == scripted_run]
    made = [c for c in store.get_run(what_if.id).model_calls if not c.replayed]
    assert len(made) >= 1
    assert not at.exception


def test_an_invalid_change_shows_the_validators_messages(app, db_url, scripted_run) -> None:
    at = app(db_url, "whatif", run=scripted_run)
    at.radio(key="whatif.mode").set_value("whole recipe (YAML)").run()
    at.text_area(key=f"whatif.text.{scripted_run}").set_value("name: x\nstages: [{use: nope}]\n")
    at.run()
    assert any("unknown component 'nope'" in c.value for c in at.code)
    assert "whatif.go" not in [b.key for b in at.button]


@pytest.mark.model
def test_reselecting_an_embedded_model_run_makes_no_model_call(local_run) -> None:
    url, run_id = local_run
    store = RunStore.open(url)
    recorded = store.get_run(run_id)
    outcome = try_change(store, run_id, reselected_recipe(
        recorded.recipe_text, {"use": "self_certainty"}), allow_calls=False)
    assert outcome.made == 0 and outcome.served == len(recorded.model_calls)
    new = store.get_run(outcome.new_run)
    assert {c.id for c in new.candidates} == {c.id for c in recorded.candidates}
    assert (new.selection or {}).get("score_name") == "self_certainty"
