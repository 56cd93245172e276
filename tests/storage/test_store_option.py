"""``Pipeline(store=...)``: where a run is recorded is a typed option, not the environment."""

from __future__ import annotations

import pytest
from scripted_recipes import recipe

from ttc.pipeline import Pipeline
from ttc.plugin_system import PluginHost
from ttc.storage import RunStore


def test_a_url_records_there_and_only_there(tmp_path, host: PluginHost) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    result = Pipeline.from_text(recipe(tag="opt-url"), host=host, store=url).run("2+2?")
    assert result.status == "succeeded"
    run = RunStore.open(url).get_run(result.run_id)
    assert run.status == "succeeded" and run.answer == result.answer
    assert len(run.model_calls) == result.ledger.total.calls > 0


def test_a_store_object_records_into_it(store: RunStore, host: PluginHost) -> None:
    result = Pipeline.from_text(recipe(tag="opt-obj"), host=host, store=store).run("2+2?")
    assert store.get_run(result.run_id).status == "succeeded"


def test_false_records_nothing_even_when_the_environment_asks(
        tmp_path, host: PluginHost, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("TTC_DATABASE_URL", url)
    off = Pipeline.from_text(recipe(tag="opt-off"), host=host, store=False).run("2+2?")
    on = Pipeline.from_text(recipe(tag="opt-env"), host=host).run("2+2?")  # None: env decides
    runs = {r.id for r in RunStore.open(url).list_runs()}
    assert on.run_id in runs and off.run_id not in runs


def test_true_is_the_default_store(tmp_path, host: PluginHost,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'default.db'}"
    monkeypatch.setenv("TTC_DATABASE_URL", url)
    monkeypatch.setenv("TTC_RECORD", "0")  # the environment says no; the option wins
    result = Pipeline.from_text(recipe(tag="opt-true"), host=host, store=True).run("2+2?")
    assert RunStore.open(url).get_run(result.run_id).status == "succeeded"


def test_a_store_that_cannot_open_fails_the_run_with_no_model_call(
        tmp_path, host: PluginHost) -> None:
    (tmp_path / "foreign.db").write_bytes(b"not a database at all, just text" * 4)
    url = f"sqlite:///{tmp_path / 'foreign.db'}"
    result = Pipeline.from_text(recipe(tag="opt-bad"), host=host, store=url).run("2+2?")
    assert result.status == "failed" and result.answer is None
    assert "not a SQLite database" in (result.error or "")
    assert result.ledger.total.calls == 0


def test_something_else_is_a_clear_error(host: PluginHost) -> None:
    result = Pipeline.from_text(recipe(tag="opt-odd"), host=host, store=3.5).run("2+2?")
    assert result.status == "failed" and "not a database URL" in (result.error or "")
