"""Plugins add options to the commands that run recipes (``PipelineOptions``): typed, turned
into ``Pipeline`` keyword arguments, never environment variables; the core CLI imports no
plugin to have them."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
from typer.testing import CliRunner

from ttc import PipelineOption, PipelineOptions, PluginHost, hookimpl
from ttc.cli.command_options import with_pipeline_options

CORE = Path(__file__).parents[2] / "orchestrator"


def store_choice(record: bool, db: str | None) -> dict[str, Any]:
    return {"store": (db or True) if record else False}


STORE = PipelineOptions(
    options=(PipelineOption("record", ("--record/--no-record",), "Record.", True, bool),
             PipelineOption("db", ("--db",), "Store URL.")),
    configure=store_choice)
LIMIT = PipelineOptions(options=(PipelineOption("budget", ("--budget",), "Calls.", 3, int),),
                        configure=lambda budget: {"budget": budget})


def command_app(*groups: PipelineOptions) -> tuple[typer.Typer, list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    def run(recipe: Annotated[str, typer.Argument()],
            seed: Annotated[int, typer.Option()] = 0,
            pipeline_kwargs: dict[str, Any] | None = None) -> None:
        received.append({"recipe": recipe, "seed": seed, **(pipeline_kwargs or {})})

    app = typer.Typer()
    app.command("run")(with_pipeline_options(run, groups))
    app.command("other")(lambda: None)
    return app, received


@pytest.mark.parametrize(("args", "expected"), [
    ([], {"store": True, "budget": 3}),
    (["--db", "sqlite:///x.db"], {"store": "sqlite:///x.db", "budget": 3}),
    (["--no-record", "--db", "sqlite:///x.db", "--budget", "7"], {"store": False, "budget": 7}),
])
def test_registered_options_reach_the_command_as_pipeline_arguments(args, expected) -> None:
    app, received = command_app(STORE, LIMIT)
    outcome = CliRunner().invoke(app, ["run", "r.yaml", "--seed", "2", *args])
    assert outcome.exit_code == 0, outcome.output
    assert received == [{"recipe": "r.yaml", "seed": 2, **expected}]


def test_the_options_are_in_the_commands_help() -> None:
    app, _ = command_app(STORE)
    text = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"}).output
    assert "--no-record" in text and "--db" in text and "Store URL." in text


def test_an_option_that_clashes_with_the_commands_own_is_left_out() -> None:
    clash = PipelineOptions(options=(PipelineOption("seed", ("--seed",), "Mine."),),
                            configure=lambda seed: {"mine": seed})
    app, received = command_app(clash)
    assert CliRunner().invoke(app, ["run", "r.yaml", "--seed", "5"]).exit_code == 0
    assert received == [{"recipe": "r.yaml", "seed": 5}]


class _Registers:
    def __init__(self, *groups: object) -> None:
        self.groups = groups

    @hookimpl
    def ttc_register_pipeline_options(self, register) -> None:
        for group in self.groups:
            register(group)


def test_the_registry_refuses_clashes_between_plugins_and_malformed_options() -> None:
    host = PluginHost(load_entry_points=False)
    bad_type = PipelineOptions(options=(PipelineOption("n", ("--n",), "N.", None, list),),
                               configure=dict)
    same_flag = PipelineOptions(options=(PipelineOption("url", ("--db",), "Mine."),),
                                configure=dict)
    host.register(_Registers(LIMIT, bad_type, "not options", same_flag), name="extra")
    registry = host.registry
    assert list(registry.pipeline_options) == ["--record/--no-record --db", "--budget"]
    problems = next(p.problems for p in host.plugins() if p.name == "extra")
    assert any("type must be str, int, float or bool" in p for p in problems)
    assert any("not ttc.PipelineOptions" in p for p in problems)
    assert any("--db" in p and "ttc.storage.plugin" in p for p in problems)


def test_the_core_command_line_imports_no_plugin() -> None:
    for path in (CORE / "cli").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        names += [a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                  for a in node.names]
        assert not [n for n in names if n.startswith(("ttc.storage", "ttc.plugins", "ttc.ui"))
                    ], path
        assert "os.environ[" not in path.read_text(encoding="utf-8"), path
