"""The recipe being built: plain recipe data plus the verbatim text of its ``source:`` block.

The builder edits the same data a YAML file holds (no parallel model that could drift), so an
unedited recipe exports equal to what was loaded. ``source:`` is provenance that no form
edits (e.g. the Archon JSON an imported recipe came from); its text is kept byte for byte,
comments included, and put back where it was.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]
"""Where a value sits in the recipe data, e.g. ``("stages", 1, "repeat", "stages", 0)``."""

SOURCE_KEY = "source"


@dataclass
class Draft:
    """A recipe under construction. ``data`` never holds ``source``; ``source_text`` is its
    block as written (from the ``source:`` line through its last line) and
    ``source_index`` its position among the top-level keys."""

    data: dict[str, Any] = field(default_factory=dict)
    header: str = ""
    """Comment lines before the first key (e.g. an import's notes), kept as written."""
    source_text: str | None = None
    source_index: int = 0
    file_name: str = "recipe.yaml"
    loaded_text: str | None = None
    """The text this draft was loaded from: exported as is while the data is unchanged, so
    an unedited recipe keeps every comment and validation points at its own lines."""
    loaded_data: dict[str, Any] | None = None

    @property
    def edited(self) -> bool:
        return self.loaded_text is None or self.data != self.loaded_data


class NotAMapping(ValueError):
    """The text is YAML but not a recipe mapping: only the YAML editor can show it."""


def blank_draft() -> Draft:
    """A new recipe: one embedded model, one sampling stage, majority vote."""
    return Draft({
        "name": "my-recipe",
        "models": {"small": {"runtime": "local"}},
        "task": "number",
        "stages": [{"use": "sample", "n": 4, "max_tokens": 48}],
        "select": {"use": "majority"},
    })


def load_draft(text: str, file_name: str = "recipe.yaml") -> Draft:
    """Parse recipe text. Raises ``yaml.YAMLError`` for text that is not YAML (the validator
    words that for people) and ``NotAMapping`` for YAML that is not a mapping."""
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise NotAMapping("a recipe is a mapping with name, models and stages")
    draft = Draft(file_name=file_name, header=_header(text))
    keys = list(data)
    if SOURCE_KEY in data:
        block = _source_block(text)
        if block is not None:
            draft.source_text = block
            draft.source_index = keys.index(SOURCE_KEY)
            data = {k: v for k, v in data.items() if k != SOURCE_KEY}
    draft.data = data
    draft.loaded_text = text
    draft.loaded_data = copy.deepcopy(data)
    return draft


def _header(text: str) -> str:
    lines = []
    for line in text.splitlines(keepends=True):
        if line.strip() and not line.lstrip().startswith("#"):
            break
        lines.append(line)
    return "".join(lines)


def _source_block(text: str) -> str | None:
    """The text of the top-level ``source:`` entry, comments kept; None when the document is
    not a block mapping (then ``source`` stays in the data and is dumped like the rest)."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode) or root.flow_style:
        return None
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    for position, (key, _value) in enumerate(root.value):
        if not (isinstance(key, yaml.ScalarNode) and key.value == SOURCE_KEY):
            continue
        start = offsets[key.start_mark.line]
        following = root.value[position + 1][0] if position + 1 < len(root.value) else None
        end = offsets[following.start_mark.line] if following is not None else len(text)
        block = text[start:end]
        return block if block.endswith("\n") else block + "\n"
    return None


# --- export ------------------------------------------------------------------------------


class _RecipeDumper(yaml.SafeDumper):
    """Block style for structure, flow style for small all-scalar mappings (component
    entries, model specs), literal blocks for multi-line text."""


class _Block(dict):
    """A mapping always written in block style (the recipe's top level)."""


def _represent_block(dumper: yaml.SafeDumper, value: _Block) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value.items(), flow_style=False)


def _represent_dict(dumper: yaml.SafeDumper, value: dict) -> yaml.Node:
    scalars = all(isinstance(v, (str, int, float, bool, type(None))) for v in value.values())
    short = len(repr(value)) <= 72 and all("\n" not in str(v) for v in value.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", value.items(),
                                    flow_style=bool(value) and scalars and short)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_RecipeDumper.add_representer(dict, _represent_dict)
_RecipeDumper.add_representer(_Block, _represent_block)
_RecipeDumper.add_representer(str, _represent_str)


def to_yaml(draft: Draft) -> str:
    """The recipe as YAML text: the loaded text while nothing changed, else the data with
    keys in their order and ``source:`` verbatim where it was."""
    if not draft.edited and draft.loaded_text is not None:
        return draft.loaded_text
    parts: list[str] = [draft.header]
    keys = list(draft.data)
    for index, key in enumerate(keys):
        if draft.source_text is not None and index == draft.source_index:
            parts.append(draft.source_text)
        parts.append(yaml.dump(_Block({key: draft.data[key]}), Dumper=_RecipeDumper,
                               sort_keys=False, allow_unicode=True, width=100))
    if draft.source_text is not None and draft.source_index >= len(keys):
        parts.append(draft.source_text)
    return "".join(parts)


# --- stages ------------------------------------------------------------------------------


def get(data: Any, path: Path) -> Any:
    for part in path:
        data = data[part]
    return data


def stage_kind(stage: Any) -> str:
    """``repeat``, ``named`` ({name, components}), ``single`` ({use: ...}), ``concurrent``
    (a list) or ``invalid`` (the validator says why)."""
    if isinstance(stage, dict) and "repeat" in stage:
        return "repeat" if isinstance(stage["repeat"], dict) else "invalid"
    if isinstance(stage, dict) and "components" in stage:
        return "named" if isinstance(stage["components"], list) else "invalid"
    if isinstance(stage, dict):
        return "single"
    if isinstance(stage, list):
        return "concurrent"
    return "invalid"


def entries_path(stage: Any, stage_path: Path) -> Iterator[Path]:
    """The paths of a (non-repeat) stage's component entries."""
    kind = stage_kind(stage)
    if kind == "single":
        yield stage_path
    elif kind == "concurrent":
        yield from ((*stage_path, j) for j in range(len(stage)))
    elif kind == "named":
        yield from ((*stage_path, "components", j) for j in range(len(stage["components"])))


def entry_dict(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """The entry at ``path`` as a mapping; a ``- sample`` shorthand becomes ``{use: sample}``
    in place, so forms can add parameters to it."""
    entry = get(data, path)
    if isinstance(entry, str):
        entry = {"use": entry}
        _set(data, path, entry)
    return entry


def add_stage(data: dict[str, Any], stages_path: Path, component: str) -> None:
    _stages(data, stages_path).append({"use": component})


def add_repeat(data: dict[str, Any], stages_path: Path, component: str,
               max_rounds: int = 2) -> None:
    _stages(data, stages_path).append(
        {"repeat": {"max_rounds": max_rounds, "stages": [{"use": component}]}})


def add_concurrent(data: dict[str, Any], stage_path: Path, component: str) -> None:
    """Run another component in the same stage (a single entry becomes a list of two)."""
    stage = get(data, stage_path)
    kind = stage_kind(stage)
    if kind == "single":
        _set(data, stage_path, [stage, {"use": component}])
    elif kind == "concurrent":
        stage.append({"use": component})
    elif kind == "named":
        stage["components"].append({"use": component})
    else:
        raise ValueError(f"stage {stage_path} holds no components")


def remove_entry(data: dict[str, Any], entry_path: Path, stage_path: Path) -> None:
    """Remove one component; a stage left with none is removed too."""
    if entry_path == stage_path:
        remove_stage(data, stage_path)
        return
    container = get(data, entry_path[:-1])
    del container[entry_path[-1]]
    if not container:
        remove_stage(data, stage_path)


def remove_stage(data: dict[str, Any], stage_path: Path) -> None:
    del get(data, stage_path[:-1])[stage_path[-1]]


def move_stage(data: dict[str, Any], stage_path: Path, offset: int) -> None:
    stages = get(data, stage_path[:-1])
    index = stage_path[-1]
    assert isinstance(index, int)
    target = index + offset
    if 0 <= target < len(stages):
        stages[index], stages[target] = stages[target], stages[index]


def _stages(data: dict[str, Any], stages_path: Path) -> list[Any]:
    parent = get(data, stages_path[:-1])
    key = stages_path[-1]
    if not isinstance(parent.get(key) if isinstance(parent, dict) else None, list):
        parent[key] = []
    return parent[key]


def _set(data: dict[str, Any], path: Path, value: Any) -> None:
    get(data, path[:-1])[path[-1]] = value
