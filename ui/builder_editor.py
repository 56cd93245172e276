"""The builder's form editor: recipe fields, models, stages (concurrent components, repeat
blocks with stop conditions) and the final selector, all edited in the draft's data.

Widget keys carry the draft's revision, bumped by every structural change (a stage added,
a recipe loaded), so widgets are rebuilt from the data instead of keeping stale values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from ttc.recipe.plan import Limits, StopCondition
from ttc.registry import Registry
from ttc.ui import recipe_draft as rd
from ttc.ui.catalogue import ComponentDoc, component_docs, selectors
from ttc.ui.forms import render_form

REV_KEY = "builder.rev"


def bump() -> None:
    """Structure changed: rebuild every widget from the data on the next run."""
    st.session_state[REV_KEY] = st.session_state.get(REV_KEY, 0) + 1


def _key(*parts: Any) -> str:
    return f"b{st.session_state.get(REV_KEY, 0)}." + ".".join(str(p) for p in parts)


def _edit(action: Callable[..., None], *args: Any) -> None:
    """A button callback: change the data's structure, then rebuild the widgets."""
    action(*args)
    bump()


def _rebuild() -> None:
    """The structure changed while drawing: start over with fresh widgets."""
    bump()
    st.rerun()


def _edit_with_picked(action: Callable[..., None], picker_key: str, *args: Any) -> None:
    """Like ``_edit``, with the component chosen in a picker as the last argument (read when
    the button is clicked, not when it was drawn)."""
    _edit(action, *args, st.session_state[picker_key])


def _header_row() -> Any:
    """A title with small icon buttons on its right."""
    return st.container(horizontal=True, vertical_alignment="center", gap="small", wrap=False)


def _icon_button(icon: str, key: str, help_text: str, action: Callable[..., None], *args: Any,
                 disabled: bool = False) -> None:
    st.button("", icon=f":material/{icon}:", key=key, help=help_text, type="tertiary",
              disabled=disabled, on_click=_edit, args=(action, *args))


def _sub_dict(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """``parent[key]`` to edit in place; a missing one is attached only once it holds
    something, so an untouched form never adds an empty mapping to the recipe."""
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def _attach(parent: dict[str, Any], key: str, value: dict[str, Any]) -> None:
    if key not in parent and value:
        parent[key] = value


# --- the recipe --------------------------------------------------------------------------


def render_recipe_fields(data: dict[str, Any], registry: Registry) -> None:
    name = st.text_input("name *", value=str(data.get("name", "")), key=_key("name"),
                         help="The recipe's name (runs are listed under it).")
    if name != data.get("name"):
        data["name"] = name
    description = st.text_area("description", value=str(data.get("description", "")),
                               key=_key("description"), height=68)
    if description != data.get("description", ""):
        data["description"] = description
    left, right = st.columns(2)
    with left:
        seed = data.get("seed", 0)
        if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0:
            new_seed = st.number_input("seed", min_value=0, value=seed, step=1,
                                       key=_key("seed"),
                                       help="Run seed: every call's seed derives from it.")
            if new_seed != seed:
                data["seed"] = int(new_seed)
        else:
            st.caption(f"seed: {seed!r} (edit it as YAML)")
    with right:
        _task(data, registry)


def _task(data: dict[str, Any], registry: Registry) -> None:
    task = data.get("task")
    current = task.get("use") if isinstance(task, dict) else task
    names = sorted(registry.tasks)
    options: list[Any] = [None, *names]
    if current not in options:
        options.append(current)
    chosen = st.selectbox("task (answer format)", options, index=options.index(current),
                          key=_key("task"),
                          format_func=lambda v: "(none: no answer extracted)" if v is None
                          else str(v),
                          help="How the answer is extracted from a completion and compared.")
    if chosen != current:
        if chosen is None:
            data.pop("task", None)
        else:
            data["task"] = chosen
        _rebuild()
    if chosen in registry.tasks:
        cls = registry.task(chosen)
        params = dict(task) if isinstance(task, dict) else {"use": chosen}
        if cls.Config.model_fields:
            with st.popover("task parameters"):
                render_form(cls.Config, params, _key("task", chosen))
        if len(params) > 1 and params != task:
            data["task"] = params


def render_limits(data: dict[str, Any]) -> None:
    limits = _sub_dict(data, "limits")
    render_form(Limits, limits, _key("limits"))
    _attach(data, "limits", limits)


# --- models ------------------------------------------------------------------------------


def render_models(data: dict[str, Any], registry: Registry) -> None:
    models = data.get("models")
    if models is not None and not isinstance(models, dict):
        st.warning("`models` is not a mapping: edit it as YAML.")
        return
    models = models or {}
    runtimes = sorted(registry.runtimes)
    for alias in list(models):
        spec = models[alias]
        if isinstance(spec, str):
            spec = {"runtime": spec}
        if not isinstance(spec, dict):
            st.warning(f"model `{alias}` is not a mapping: edit it as YAML.")
            continue
        with st.container(border=True):
            with _header_row():
                st.markdown(f"**{alias}**", width="stretch")
                _icon_button("close", _key("model", alias, "remove"), f"Remove model {alias}",
                             _remove_model, data, alias)
            runtime = spec.get("runtime")
            options: list[str | None] = list(runtimes)
            if runtime not in options:
                options.append(runtime)
            left, right = st.columns(2)
            chosen = left.selectbox("runtime", options, index=options.index(runtime),
                                    key=_key("model", alias, "runtime"),
                                    format_func=lambda v: "(choose)" if v is None else str(v))
            model = right.text_input("model", value=str(spec.get("model") or ""),
                                     key=_key("model", alias, "model"),
                                     help="A model name or path; empty: the runtime's default.")
            if chosen != runtime:
                spec = {"runtime": chosen}
                models[alias] = spec
                _rebuild()
            if model != (spec.get("model") or ""):
                spec["model"] = model
            if chosen is not None and chosen in registry.runtimes:
                options_values = _sub_dict(spec, "options")
                with st.expander(f"{chosen} options"):
                    render_form(registry.runtime(chosen).Options, options_values,
                                _key("model", alias, chosen))
                _attach(spec, "options", options_values)
            if models[alias] is not spec and spec != {"runtime": models[alias]}:
                models[alias] = spec
    with (st.form(_key("add-model"), clear_on_submit=True, border=False),
          st.container(horizontal=True, vertical_alignment="bottom")):
        alias = st.text_input("new model alias", placeholder="e.g. small")
        runtime = st.selectbox("runtime", runtimes,
                               index=runtimes.index("local") if "local" in runtimes else 0)
        if st.form_submit_button("Add model") and alias.strip():
            data.setdefault("models", {})
            if isinstance(data["models"], dict) and alias.strip() not in data["models"]:
                data["models"][alias.strip()] = {"runtime": runtime}
                _rebuild()


def _remove_model(data: dict[str, Any], alias: str) -> None:
    data["models"].pop(alias, None)


# --- stages ------------------------------------------------------------------------------


def _component_picker(label: str, docs: list[ComponentDoc], key: str,
                      only: Callable[[ComponentDoc], bool] = lambda d: True) -> str:
    names = [d.name for d in docs if only(d)]
    labels = {d.name: d.label for d in docs}
    return st.selectbox(label, names, key=key, format_func=lambda n: labels.get(n, n),
                        width="stretch")


def render_stages(data: dict[str, Any], registry: Registry) -> None:
    stages = data.get("stages")
    if stages is not None and not isinstance(stages, list):
        st.warning("`stages` is not a list: edit it as YAML.")
        return
    _stage_list(data, ("stages",), registry, depth=0)


def _stage_list(data: dict[str, Any], stages_path: rd.Path, registry: Registry,
                depth: int) -> None:
    stages = rd.get(data, stages_path) if _exists(data, stages_path) else []
    docs = component_docs(registry)
    for i, stage in enumerate(stages):
        _stage(data, (*stages_path, i), stage, i, len(stages), registry, docs, depth)
    with st.container(horizontal=True, vertical_alignment="bottom"):
        picker = _key(*stages_path, "new")
        _component_picker("component for a new stage", docs, picker)
        st.button("Add stage", key=_key(*stages_path, "add"), on_click=_edit_with_picked,
                  args=(rd.add_stage, picker, data, stages_path),
                  help="Append a stage that runs this component.")
        if depth == 0:
            st.button("Add repeat block", key=_key(*stages_path, "add-repeat"),
                      on_click=_edit_with_picked, args=(rd.add_repeat, picker, data, stages_path),
                      help="Append a repeat block whose first stage runs this component; "
                      "set its rounds and stop condition in it.")


def _exists(data: dict[str, Any], path: rd.Path) -> bool:
    try:
        return isinstance(rd.get(data, path), list)
    except (KeyError, IndexError, TypeError):
        return False


def _stage(data: dict[str, Any], path: rd.Path, stage: Any, index: int, count: int,
           registry: Registry, docs: list[ComponentDoc], depth: int) -> None:
    kind = rd.stage_kind(stage)
    with st.container(border=True):
        title = f"Stage {index + 1}"
        if isinstance(stage, dict) and isinstance(stage.get("name"), str):
            title += f" · {stage['name']}"
        if kind == "repeat":
            title += " · repeat"
        elif kind == "concurrent" or (kind == "named" and len(stage["components"]) > 1):
            title += " · concurrent"
        with _header_row():
            st.markdown(f"**{title}**", width="stretch")
            _icon_button("arrow_upward", _key(*path, "up"), "Move up", rd.move_stage, data,
                         path, -1, disabled=index == 0)
            _icon_button("arrow_downward", _key(*path, "down"), "Move down", rd.move_stage,
                         data, path, 1, disabled=index == count - 1)
            _icon_button("close", _key(*path, "remove"), "Remove this stage", rd.remove_stage,
                         data, path)
        if kind == "invalid":
            st.warning("This stage is not a component, a list of components or a repeat "
                       "block; the validator says why. Edit it as YAML.")
            return
        if kind == "repeat":
            _repeat(data, path, stage, registry, depth)
            return
        for entry_path in list(rd.entries_path(stage, path)):
            _entry(data, entry_path, path, registry)
        with st.container(horizontal=True, vertical_alignment="bottom"):
            picker = _key(*path, "concurrent")
            _component_picker("component to run concurrently", docs, picker)
            st.button("Run concurrently", key=_key(*path, "add-concurrent"),
                      help="Add a component that runs in the same stage, at the same time.",
                      on_click=_edit_with_picked, args=(rd.add_concurrent, picker, data, path))


def _repeat(data: dict[str, Any], path: rd.Path, stage: dict[str, Any], registry: Registry,
            depth: int) -> None:
    block = stage["repeat"]
    rounds = block.get("max_rounds", 1)
    if isinstance(rounds, int) and not isinstance(rounds, bool) and 1 <= rounds <= 1000:
        new = st.number_input("max_rounds", min_value=1, max_value=1000, value=rounds, step=1,
                              key=_key(*path, "max_rounds"),
                              help="Rounds run at most; a stop condition may end it earlier.")
        if new != rounds:
            block["max_rounds"] = int(new)
    else:
        st.caption(f"max_rounds: {rounds!r} (edit it as YAML)")
    until = _sub_dict(block, "until")
    with st.expander("stop when (until)", expanded=bool(until)):
        render_form(StopCondition, until, _key(*path, "until"))
    _attach(block, "until", until)
    if not isinstance(block.get("stages"), list):
        block["stages"] = []
    _stage_list(data, (*path, "repeat", "stages"), registry, depth + 1)


def _entry(data: dict[str, Any], entry_path: rd.Path, stage_path: rd.Path,
           registry: Registry) -> None:
    raw = rd.get(data, entry_path)
    name = raw if isinstance(raw, str) else raw.get("use") if isinstance(raw, dict) else None
    with st.container(border=True):
        if not isinstance(name, str) or name not in registry.components:
            with _header_row():
                st.warning(f"unknown component {name!r}: the validator suggests a fix; edit "
                           "it as YAML or remove it.", width="stretch")
                _icon_button("close", _key(*entry_path, "remove-entry"), "Remove it",
                             rd.remove_entry, data, entry_path, stage_path)
            return
        cls = registry.component(name)
        doc = (cls.__doc__ or "").strip().splitlines()
        with _header_row():
            st.markdown(f"`{name}` · {cls.kind} · {cls.effect}  \n"
                        f"<small>{doc[0] if doc else ''}</small>", unsafe_allow_html=True,
                        width="stretch")
            _icon_button("close", _key(*entry_path, "remove-entry"), f"Remove {name}",
                         rd.remove_entry, data, entry_path, stage_path)
        entry = rd.entry_dict(data, entry_path)
        if cls.uses_model:
            _model_choice(data, entry, entry_path)
        if cls.Config.model_fields:
            with st.expander("parameters", expanded=False):
                render_form(cls.Config, entry, _key(*entry_path, name))


def _model_choice(data: dict[str, Any], entry: dict[str, Any], entry_path: rd.Path) -> None:
    models = data.get("models")
    aliases = list(models) if isinstance(models, dict) else []
    current = entry.get("model")
    options: list[Any] = [None, *aliases]
    if current not in options:
        options.append(current)
    chosen = st.selectbox("model", options, index=options.index(current),
                          key=_key(*entry_path, "model"),
                          format_func=lambda v: "(the recipe's only model)" if v is None
                          else str(v))
    if chosen != current:
        if chosen is None:
            entry.pop("model", None)
        else:
            entry["model"] = chosen


# --- the final selection -----------------------------------------------------------------


def render_select(data: dict[str, Any], registry: Registry) -> None:
    select = data.get("select")
    current = select.get("use") if isinstance(select, dict) else select
    names = selectors(registry)
    options: list[Any] = [None, *names]
    if current not in options:
        options.append(current)
    chosen = st.selectbox("selector", options, index=options.index(current),
                          key=_key("select"),
                          format_func=lambda v: "(none: the last stage's pool is the result)"
                          if v is None else str(v))
    if chosen != current:
        if chosen is None:
            data.pop("select", None)
        else:
            data["select"] = {"use": chosen}
        _rebuild()
    if chosen in registry.components:
        entry = rd.entry_dict(data, ("select",))
        cls = registry.component(chosen)
        doc = (cls.__doc__ or "").strip().splitlines()
        if doc:
            st.caption(doc[0])
        render_form(cls.Config, entry, _key("select", chosen))
