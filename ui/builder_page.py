"""The Builder page: compose a recipe from registered components, validate it live with the
messages of ``ttc validate``, preview, download or upload its YAML, and run it.

A recipe is only data naming registered components: nothing in an uploaded file is
executed, and a file that is not a recipe shows the validator's messages.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any, Literal

import streamlit as st
import yaml

from ttc import Pipeline, RecipeError, default_host
from ttc.errors import RecipeIssue
from ttc.ui import builder_editor as editor
from ttc.ui import recipe_draft as rd
from ttc.ui.catalogue import by_kind, component_docs
from ttc.ui.run_progress import Progress, run_with_progress
from ttc.ui.settings import current_store
from ttc.ui.shipped_recipes import shipped_recipes
from ttc.ui.validation import recipe_issues, validate_output

DRAFT_KEY = "builder.draft"
RAW_KEY = "builder.raw"
"""Text that is not a recipe mapping (bad YAML, a list, ...): only the YAML editor shows it."""
UPLOAD_KEY = "builder.upload"
UPLOAD_ISSUES_KEY = "builder.upload_issues"
LAST_RUN_KEY = "builder.last_run"
BLANK = "(blank recipe)"


def draft() -> rd.Draft:
    if DRAFT_KEY not in st.session_state:
        st.session_state[DRAFT_KEY] = rd.blank_draft()
    return st.session_state[DRAFT_KEY]


def current_text() -> tuple[str, str]:
    """(recipe text, file name) of what the builder holds now."""
    raw = st.session_state.get(RAW_KEY)
    if raw is not None:
        return raw[0], raw[1]
    current = draft()
    return rd.to_yaml(current), current.file_name


def apply_text(text: str, file_name: str) -> None:
    """Make ``text`` the recipe being built (from an upload, a shipped recipe or the YAML
    editor); text that is not a recipe mapping is kept as text for the YAML editor."""
    st.session_state.pop(UPLOAD_ISSUES_KEY, None)
    try:
        st.session_state[DRAFT_KEY] = rd.load_draft(text, file_name)
        st.session_state.pop(RAW_KEY, None)
    except (yaml.YAMLError, rd.NotAMapping):
        st.session_state[RAW_KEY] = (text, file_name)
    editor.bump()


def render() -> None:
    st.title("Builder")
    registry = default_host().registry
    _start_from()
    raw = st.session_state.get(RAW_KEY)
    text, file_name = current_text()
    edit, side = st.columns([3, 2], gap="large")
    with edit:
        if raw is not None:
            st.info("This text is not a recipe mapping yet, so there is no form to show. "
                    "Fix it in the YAML editor on the right (the problems are listed there), "
                    "or start from a shipped recipe.")
        else:
            data = draft().data
            st.subheader("Recipe")
            editor.render_recipe_fields(data, registry)
            st.subheader("Models")
            editor.render_models(data, registry)
            st.subheader("Stages")
            editor.render_stages(data, registry)
            st.subheader("Select")
            editor.render_select(data, registry)
            with st.expander("limits (budgets and call policy)"):
                editor.render_limits(data)
            text, file_name = current_text()  # after this run's edits
    with side:
        issues = _validation(text, file_name)
        _yaml_panel(text, file_name)
    _catalogue(registry)
    _run_section(text, file_name, issues)


# --- loading -----------------------------------------------------------------------------


def _start_from() -> None:
    shipped = shipped_recipes()
    left, middle = st.columns([1, 1], vertical_alignment="bottom")
    with left:
        choice = st.selectbox("Start from", [BLANK, *shipped], key="builder.start")
        if st.button("Load", key="builder.load"):
            if choice == BLANK:
                st.session_state[DRAFT_KEY] = rd.blank_draft()
                st.session_state.pop(RAW_KEY, None)
                editor.bump()
            else:
                apply_text(shipped[choice].read_text(encoding="utf-8"), choice)
            st.rerun()
    with middle:
        uploaded = st.file_uploader("Upload a recipe (YAML)", type=["yaml", "yml"],
                                    key="builder.upload_widget")
    if uploaded is not None and uploaded.file_id != st.session_state.get(UPLOAD_KEY):
        st.session_state[UPLOAD_KEY] = uploaded.file_id
        name = PurePath(uploaded.name).name or "recipe.yaml"
        try:
            text = uploaded.getvalue().decode("utf-8")
        except UnicodeDecodeError as exc:
            st.session_state[UPLOAD_ISSUES_KEY] = [RecipeIssue(
                f"the recipe is not UTF-8 text ({exc.reason})", "save it as UTF-8", name)]
        else:
            apply_text(text, name)
            st.rerun()


# --- validation and YAML -----------------------------------------------------------------


def _validation(text: str, file_name: str) -> list[RecipeIssue]:
    st.subheader("Validation")
    upload_issues = st.session_state.get(UPLOAD_ISSUES_KEY)
    if upload_issues:
        st.error("The uploaded file was not loaded:")
        st.code(validate_output(upload_issues, upload_issues[0].source), language=None)
    issues = recipe_issues(text, file_name)
    if issues:
        st.error(f"{len(issues)} problem(s) found — exactly what `ttc validate {file_name}` "
                 "prints:")
    else:
        st.success("Valid. `ttc validate` prints:")
    st.code(validate_output(issues, file_name), language=None)
    return issues


def _yaml_panel(text: str, file_name: str) -> None:
    st.subheader("YAML")
    name = st.text_input("file name", value=file_name, key=f"builder.file_name.{file_name}")
    if name and name != file_name and st.session_state.get(RAW_KEY) is None:
        draft().file_name = PurePath(name).name
        st.rerun()
    st.download_button("Download YAML", data=text.encode("utf-8"), file_name=file_name,
                       mime="application/x-yaml", key="builder.download")
    tab_preview, tab_edit = st.tabs(["Preview", "Edit as YAML"])
    with tab_preview:
        st.code(text, language="yaml", wrap_lines=True)
    with tab_edit:
        key = f"builder.yaml.{editor.REV_KEY}.{st.session_state.get(editor.REV_KEY, 0)}." \
              f"{hash(text)}"
        st.text_area("recipe YAML", value=text, height=420, key=key, on_change=_yaml_edited,
                     args=(key, file_name),
                     help="Edits apply when the field loses focus; the form follows.")


def _yaml_edited(key: str, file_name: str) -> None:
    apply_text(st.session_state[key], file_name)


def _catalogue(registry: Any) -> None:
    with st.expander("Component catalogue — every registered component, by kind"):
        for kind, docs in by_kind(component_docs(registry)).items():
            st.markdown(f"#### {kind}")
            for doc in docs:
                model = "uses a model" if doc.uses_model else "no model"
                st.markdown(f"**`{doc.name}`** — {doc.summary}  \n"
                            f"<small>{doc.effect}; {model}; plugin `{doc.plugin}`</small>",
                            unsafe_allow_html=True)
                rest = doc.doc.split("\n", 1)[1].strip() if "\n" in doc.doc else ""
                if rest:
                    st.caption(rest)


# --- running -----------------------------------------------------------------------------


def _run_section(text: str, file_name: str, issues: list[RecipeIssue]) -> None:
    st.divider()
    st.subheader("Run")
    question = st.text_input("Question", key="builder.question",
                             placeholder="e.g. What is 3 + 4? Answer with a number.")
    clicked = st.button("Run", key="builder.run", type="primary",
                        disabled=bool(issues) or not question.strip(),
                        help="Fix the recipe's problems first." if issues else None)
    if clicked:
        store = current_store()
        if store is not None:
            run_recipe(text, file_name, question.strip(), store)
    last = st.session_state.get(LAST_RUN_KEY)
    if last:
        _last_run(last)


def run_recipe(text: str, file_name: str, question: str, store: Any) -> None:
    """Run the recipe on ``question``, recorded in ``store``, with a progress display."""
    try:
        pipeline = Pipeline.from_text(text, file_name, store=store)
    except RecipeError as exc:  # changed since it was checked: show, never raise
        st.error(str(exc))
        return
    with st.status("Running…", expanded=True) as status:
        bar = st.progress(0.0)
        line = st.empty()

        def show(progress: Progress) -> None:
            bar.progress(progress.fraction)
            line.caption(progress.describe())

        result = run_with_progress(pipeline, question, on_progress=show)
        state: Literal["complete", "error"] = (
            "complete" if result.status == "succeeded" else "error")
        status.update(label=f"Run {result.run_id}: {result.status}", state=state,
                      expanded=result.status != "succeeded")
    st.session_state[LAST_RUN_KEY] = {"run_id": result.run_id, "status": result.status,
                                      "answer": result.answer, "error": result.error}


def _last_run(last: dict[str, Any]) -> None:
    if last["status"] == "succeeded":
        st.success(f"Run `{last['run_id']}` succeeded. Answer: **{last['answer']}**")
    else:
        st.error(f"Run `{last['run_id']}` {last['status']}: {last['error']}")
    if st.button("Open the run page", key="builder.open_run"):
        st.switch_page("page_scripts/run.py", query_params={"run": last["run_id"]})
