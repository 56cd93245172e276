"""A broken third-party plugin gives one message naming it and the fix, is listed with its
problem by ``ttc plugins``, and never breaks ttc for everything else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGINS = {
    "broken_import": "import nonexistent_dependency_of_the_plugin\n",
    "bad_signature": """
        from ttc import hookimpl

        @hookimpl
        def ttc_model_called(run, call, verbose):
            pass
    """,
    "half_good": """
        from ttc import Component, Effect, Selection, Selector, hookimpl

        class Echo(Component):
            '''Keeps the pool as it is.'''
            name = "echo"
            kind = "rewriter"
            effect = Effect.ANNOTATES
            needs_candidates = True
            uses_model = False

            async def run(self, state, ctx):
                return state

        class LazyPick(Selector):
            '''Picks the first candidate, written with a plain def.'''
            name = "lazy_pick"

            def select(self, pool, ctx):
                return Selection(winner=pool[0].id, answer=pool[0].answer)

        @hookimpl
        def ttc_register_components(register):
            register(Echo)
            register(LazyPick)
    """,
    "bad_config": """
        from ttc import Component, Effect, hookimpl

        class Plain:
            size = 3

        class Odd(Component):
            '''Its Config is not a ComponentConfig.'''
            name = "odd"
            kind = "rewriter"
            effect = Effect.PRODUCES
            Config = Plain

            async def run(self, state, ctx):
                return state

        @hookimpl
        def ttc_register_components(register):
            register(Odd)
    """,
    "too_new": """
        from ttc import hookimpl

        REQUIRES_HOOKSPEC = "2.0"

        @hookimpl
        def ttc_run_started(run):
            pass
    """,
    "typo_hook": """
        from ttc import hookimpl

        @hookimpl
        def ttc_register_component(register):
            pass
    """,
    "raising": """
        from ttc import hookimpl

        @hookimpl
        def ttc_register_commands(cli):
            raise RuntimeError("the plugin's command module is missing")

        @hookimpl
        def ttc_register_tasks(register):
            raise RuntimeError("boom in registration")
    """,
}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """Each plugin as an installed distribution: a module and a dist-info with its entry
    point (what pip would write), on a folder put on PYTHONPATH."""
    site = tmp_path_factory.mktemp("broken-site")
    for name, source in PLUGINS.items():
        (site / f"{name}_plugin.py").write_text(textwrap.dedent(source))
        info = site / f"{name}_plugin-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}-plugin\n"
                                       "Version: 0.1\n")
        (info / "entry_points.txt").write_text(f"[ttc]\n{name} = {name}_plugin\n")
    return site


def ttc(site: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200"}
    env.pop("TTC_DISABLE_ENTRY_POINTS", None)
    return subprocess.run([sys.executable, "-m", "ttc", *args], env=env, capture_output=True,
                          text=True, timeout=180)


def test_plugins_lists_each_broken_plugin_with_its_problem(site):
    done = ttc(site, "plugins", "--json")
    assert done.returncode == 0, done.stderr
    rows = {r["name"]: r for r in json.loads(done.stdout)}
    assert rows["broken_import"]["status"] == "failed"
    assert "nonexistent_dependency_of_the_plugin" in rows["broken_import"]["problems"][0]
    assert rows["bad_signature"]["status"] == "failed"
    assert "verbose" in rows["bad_signature"]["problems"][0]
    half = rows["half_good"]
    assert half["status"] == "partly loaded" and half["provides"] == ["component:echo"]
    assert "'lazy_pick'" in half["problems"][0] and "async def select" in half["problems"][0]
    assert "ComponentConfig" in rows["bad_config"]["problems"][0]
    assert rows["too_new"]["status"] == "failed"
    assert "needs hook spec 2.0" in rows["too_new"]["problems"][0]
    typo = rows["typo_hook"]
    assert "did you mean 'ttc_register_components'" in typo["problems"][0]
    raising = rows["raising"]
    assert any("boom in registration" in p for p in raising["problems"])
    assert raising["commands"] == ["(failed: RuntimeError)"]
    assert rows["ttc.plugins.generators.sample"]["status"] == "ok"
    assert (rows["broken_import"]["distribution"], rows["broken_import"]["version"]) == (
        "broken_import-plugin", "0.1")


def test_ttc_still_runs_recipes_and_uses_what_loaded(site, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: ok\ntask: number\nmodels: {m: {runtime: scripted, options: "
                      "{responses: ['5', '6', '5']}}}\nstages:\n  - {use: sample, n: 3}\n"
                      "  - use: echo\nselect: {use: majority}\n")
    done = ttc(site, "run", str(recipe), "--input", "2 + 3?", "--json", "--no-record")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answer"] == "5"
    assert "plugin 'broken_import'" in done.stderr  # said once, with the name


def test_a_plain_def_selector_fails_validation_not_the_run(site, tmp_path):
    recipe = tmp_path / "lazy.yaml"
    recipe.write_text("name: lazy\nmodels: {m: {runtime: scripted}}\n"
                      "stages: [{use: sample, n: 2}]\nselect: {use: lazy_pick}\n")
    done = ttc(site, "validate", str(recipe))
    assert done.returncode == 2
    assert "unknown component 'lazy_pick'" in done.stderr
    assert "plugin 'half_good'" in done.stderr and "async def select" in done.stderr
