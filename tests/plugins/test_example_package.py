"""examples/ttc-plugin-example installs like any package and its component, selector,
answer format and lifecycle hook appear everywhere ttc lists or uses plugins; its own tests
(written with the conformance kit) pass."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ttc-plugin-example"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("example-site")
    source = tmp_path_factory.mktemp("example-source") / "ttc-plugin-example"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__", ".*"))  # builds write next to the sources
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(source)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    return target


def python(site: Path, *args: str, env: dict[str, str] | None = None,
           cwd: Path | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(site), **(env or {})}
    full.pop("TTC_DISABLE_ENTRY_POINTS", None)
    return subprocess.run([sys.executable, *args], env=full, capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def test_ttc_plugins_lists_what_it_registers_and_its_hook(site):
    done = python(site, "-m", "ttc", "plugins", "--json")
    assert done.returncode == 0, done.stderr
    row = next(r for r in json.loads(done.stdout) if r["name"] == "example")
    assert (row["origin"], row["distribution"], row["version"], row["status"]) == (
        "entry-point", "ttc-plugin-example", "1.0.0", "ok")
    assert row["provides"] == ["component:restate", "component:shortest_majority",
                               "task:roman_number"]
    assert row["hooks"] == ["ttc_register_components", "ttc_register_tasks",
                            "ttc_run_finished"]


def test_ttc_components_documents_its_components(site):
    done = python(site, "-m", "ttc", "components", "--json")
    rows = {r["name"]: r for r in json.loads(done.stdout)}
    assert rows["restate"]["plugin"] == "example" and rows["restate"]["effect"] == "produces"
    assert {p["name"]: p["default"] for p in rows["restate"]["parameters"]} == {
        "max_tokens": 64, "temperature": 0.0}
    assert rows["shortest_majority"]["kind"] == "selector"


def test_a_recipe_uses_all_four_parts(site, tmp_path):
    recipe = (EXAMPLE / "recipes" / "roman-vote.yaml").read_text().replace(
        "small: {runtime: local, options: {threads: 1}}",
        "small: {runtime: scripted, options: {responses: ['XIV', 'It is 14', '15']}}")
    path = tmp_path / "roman.yaml"
    path.write_text(recipe)
    summary = tmp_path / "summary.jsonl"
    done = python(site, "-m", "ttc", "run", str(path), "--input", "7 + 7?", "--json",
                  "--no-record", env={"TTC_RUN_SUMMARY": str(summary)})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    restated = [c for c in result["candidates"] if c["origin"]["component"] == "restate"]
    assert len(restated) == 5 and all(len(c["parents"]) == 1 for c in restated)
    assert result["answer"] == "XIV"  # XIV and "It is 14" are one answer; XIV is briefer
    (line,) = [json.loads(x) for x in summary.read_text().splitlines()]
    assert (line["run"], line["answer"], line["status"]) == (result["run_id"], "XIV",
                                                             "succeeded")


def test_the_ui_builder_offers_them(site):
    code = ("from ttc import default_host; from ttc.ui.catalogue import component_docs, "
            "selectors; r = default_host().registry; "
            "print(sorted(d.name for d in component_docs(r) if d.plugin == 'example'), "
            "'shortest_majority' in selectors(r), 'roman_number' in r.tasks)")
    done = python(site, "-c", code)
    assert done.stdout.strip() == "['restate', 'shortest_majority'] True True", done.stderr


def test_the_example_packages_own_tests_pass(site, tmp_path):
    done = python(site, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                  f"--basetemp={tmp_path / 'inner'}", str(EXAMPLE / "tests"),
                  f"--rootdir={EXAMPLE}", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout
