"""A third-party package installed in the test environment registers through its entry point,
exactly like the built-ins; TTC_DISABLE_ENTRY_POINTS turns that off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "plugin_example"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(EXAMPLE)],
        check=True, capture_output=True, text=True,
    )
    return target


def ttc(site: Path, *args: str, entry_points: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("TTC_DISABLE_ENTRY_POINTS", None)
    if not entry_points:
        env["TTC_DISABLE_ENTRY_POINTS"] = "1"
    return subprocess.run([sys.executable, "-m", "ttc", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_plugins_lists_the_entry_point_with_origin_and_version(site):
    rows = json.loads(ttc(site, "plugins", "--json").stdout)
    by_name = {r["name"]: r for r in rows}
    shout = by_name["shout"]
    assert shout["origin"] == "entry-point"
    assert (shout["distribution"], shout["version"]) == ("ttc-shout-plugin", "0.3.1")
    assert shout["provides"] == ["component:shout", "task:yes_no"]
    assert by_name["ttc.plugins.generators.sample"]["origin"] == "builtin"


def test_a_recipe_uses_the_third_party_component(site, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: shout\ntask: yes_no\nmodels: {s: {runtime: scripted, options: "
        "{responses: ['yes indeed']}}}\nstages:\n  - use: sample\n  - use: shout\n"
        "select: {use: majority}\n"
    )
    proc = ttc(site, "run", str(recipe), "--input", "ok?", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["answer"] == "yes"
    texts = {c["text"] for c in result["candidates"]}
    assert texts == {"yes indeed", "YES INDEED"}
    child = next(c for c in result["candidates"] if c["text"] == "YES INDEED")
    parent = next(c for c in result["candidates"] if c["text"] == "yes indeed")
    assert child["parents"] == [parent["id"]]


def test_entry_points_can_be_disabled(site, tmp_path):
    rows = json.loads(ttc(site, "plugins", "--json", entry_points=False).stdout)
    assert "shout" not in {r["name"] for r in rows}
