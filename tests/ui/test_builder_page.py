"""The Builder page in Streamlit's AppTest: forms edit the recipe, validation shows exactly
what ``ttc validate`` prints, YAML uploads and downloads round-trip, bad uploads show the
validator's messages (never a traceback), and a recipe runs on the embedded model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_recipe_draft import IMPORTED
from ui_support import widget_key

from ttc.storage import RunStore
from ttc.ui import recipe_draft as rd


def downloaded(at) -> str:
    return at.session_state["builder.draft"] and rd.to_yaml(at.session_state["builder.draft"])


def shown_validation(at) -> str:
    """The text of the validation block (the first code block on the page's right side)."""
    return at.code[0].value if not at.session_state.get("builder.upload_issues") \
        else at.code[1].value


def upload(at, name: str, data: bytes):
    at.file_uploader(key="builder.upload_widget").set_value((name, data, "application/x-yaml"))
    return at.run()


def ttc_validate(tmp_path: Path, name: str, text: str) -> str:
    """What the command line prints for the same text saved as ``name``."""
    (tmp_path / name).write_text(text, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "ttc", "validate", name], cwd=tmp_path,
                          capture_output=True, text=True, env={"COLUMNS": "300",
                                                               "PATH": "/usr/bin:/bin"})
    return (done.stdout + done.stderr).strip()


def test_a_blank_recipe_is_valid_and_its_yaml_is_shown(app, db_url: str) -> None:
    at = app(db_url, "builder")
    assert shown_validation(at) == "recipe.yaml: ok"
    preview = next(c.value for c in at.code if c.language == "yaml")
    assert yaml.safe_load(preview) == rd.blank_draft().data


def test_form_edits_change_the_recipe_and_structure_buttons_add_stages(app, db_url) -> None:
    at = app(db_url, "builder")
    at.number_input(key=widget_key(at, "stages", 0, "sample", "n")).set_value(2).run()
    at.number_input(key=widget_key(at, "model", "small", "local", "threads")).set_value(1).run()
    data = yaml.safe_load(downloaded(at))
    assert data["stages"] == [{"use": "sample", "n": 2, "max_tokens": 48}]
    assert data["models"]["small"] == {"runtime": "local", "options": {"threads": 1}}
    at.selectbox(key=widget_key(at, "stages", 0, "concurrent")).set_value("sample")
    at.button(key=widget_key(at, "stages", 0, "add-concurrent")).click().run()
    at.selectbox(key=widget_key(at, "stages", "new")).set_value("self_refine")
    at.button(key=widget_key(at, "stages", "add-repeat")).click().run()
    at.number_input(key=widget_key(at, "stages", 1, "max_rounds")).set_value(3).run()
    at.number_input(key=widget_key(at, "stages", 1, "until", "agreement")).set_value(0.75).run()
    at.selectbox(key=widget_key(at, "select")).set_value("borda").run()
    data = yaml.safe_load(downloaded(at))
    assert data["stages"][0] == [{"use": "sample", "n": 2, "max_tokens": 48}, {"use": "sample"}]
    assert data["stages"][1] == {"repeat": {"max_rounds": 3, "until": {"agreement": 0.75},
                                            "stages": [{"use": "self_refine"}]}}
    assert data["select"] == {"use": "borda"}
    assert shown_validation(at) == "recipe.yaml: ok"
    at.button(key=widget_key(at, "stages", 1, "remove")).click().run()
    assert len(yaml.safe_load(downloaded(at))["stages"]) == 1
    assert not at.exception


def test_validation_messages_are_exactly_those_of_ttc_validate(app, db_url, tmp_path) -> None:
    bad = ("name: bad\nmodels:\n  small: {runtime: local}\nstages:\n  - use: sampel\n"
           "  - use: majority\n    bogus: 1\n  - use: sample\n    n: 0\nselect: {use: sample}\n")
    at = upload(app(db_url, "builder"), "bad.yaml", bad.encode())
    expected = ttc_validate(tmp_path, "bad.yaml", bad)
    assert "unknown component 'sampel'" in expected and "problem(s) found" in expected
    assert shown_validation(at) == expected
    assert at.button(key="builder.run").disabled
    assert not at.exception


@pytest.mark.parametrize("text", [
    b"name: [unclosed\nstages: {",            # not YAML
    b"- a list\n- not a recipe\n",            # YAML, not a mapping
    b"\xff\xfe not utf-8",                     # not text
    b"!!python/object/apply:os.system ['echo pwned']\n",  # never executed
])
def test_a_malformed_upload_shows_the_validators_messages_not_a_traceback(
        app, db_url, text: bytes, tmp_path: Path) -> None:
    at = upload(app(db_url, "builder"), "broken.yaml", text)
    assert not at.exception
    assert at.error, "an error message is shown"
    messages = "\n".join(c.value for c in at.code)
    assert "broken.yaml" in messages and "Traceback" not in messages
    if text.startswith(b"\xff"):
        assert "not UTF-8" in messages
    else:
        assert ttc_validate(tmp_path, "broken.yaml", text.decode()) in messages
    assert not (tmp_path / "pwned").exists()


def test_an_uploaded_recipe_exports_equivalent_with_its_source_comments(app, db_url) -> None:
    at = upload(app(db_url, "builder"), "imported.yaml", IMPORTED.encode())
    exported = downloaded(at)
    assert yaml.safe_load(exported) == yaml.safe_load(IMPORTED)
    assert "  format: archon   # where it came from\n" in exported
    at.number_input(key=widget_key(at, "stages", 0, "sample", "n")).set_value(3).run()
    exported = downloaded(at)
    assert yaml.safe_load(exported)["stages"][0]["n"] == 3
    assert "# the original config, verbatim:" in exported
    assert shown_validation(at) == "imported.yaml: ok"


def test_the_yaml_editor_and_shipped_recipes_load_into_the_form(app, db_url) -> None:
    at = app(db_url, "builder")
    at.selectbox(key="builder.start").set_value("archon-critic-rank-fuse.yaml")
    at.button(key="builder.load").click().run()
    shipped = Path(__file__).resolve().parents[2] / "recipes" / "archon-critic-rank-fuse.yaml"
    assert yaml.safe_load(downloaded(at)) == yaml.safe_load(shipped.read_text())
    editor = next(t for t in at.text_area if t.key.startswith("builder.yaml."))
    editor.set_value("name: typed\nmodels: {m: {runtime: local}}\nstages: [{use: sample}]\n")
    at.run()
    assert at.session_state["builder.draft"].data["name"] == "typed"
    assert at.text_input(key=widget_key(at, "name")).value == "typed"


@pytest.mark.model
@pytest.mark.slow
def test_running_a_recipe_on_the_embedded_model_records_it_and_links_its_page(
        app, db_url) -> None:
    at = app(db_url, "builder", timeout=180)
    at.number_input(key=widget_key(at, "stages", 0, "sample", "n")).set_value(2).run()
    at.number_input(key=widget_key(at, "stages", 0, "sample", "max_tokens")).set_value(8).run()
    at.number_input(key=widget_key(at, "model", "small", "local", "threads")).set_value(1).run()
    at.text_input(key="builder.question").set_value("What is 3 + 4?").run()
    at.button(key="builder.run").click().run()
    assert not at.exception
    last = at.session_state["builder.last_run"]
    assert last["status"] == "succeeded"
    (status,) = at.status  # the progress display, closed on the outcome
    assert status.label == f"Run {last['run_id']}: succeeded"
    assert at.get("progress")[0].value == 100
    run = RunStore.open(db_url).get_run(last["run_id"])
    assert run.recipe_name == "my-recipe" and len(run.candidates) == 2
    assert all(len(c.tokens["ids"]) <= 8 for c in run.candidates)
    assert any(last["run_id"] in s.value for s in at.success)
    assert at.button(key="builder.open_run").label == "Open the run page"
