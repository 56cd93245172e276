"""YAML loading that remembers where every value came from (line and column)."""

from __future__ import annotations

from typing import Any

import yaml

from ttc.errors import RecipeError, RecipeIssue

Path = tuple[str | int, ...]


class Positions:
    """Maps a path inside the document to its 1-based (line, column)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._at: dict[Path, tuple[int, int]] = {}

    def set(self, path: Path, node: yaml.Node) -> None:
        self._at[path] = (node.start_mark.line + 1, node.start_mark.column + 1)

    def of(self, path: Path) -> tuple[int | None, int | None]:
        """The position of ``path`` or of its nearest ancestor that has one."""
        while True:
            if path in self._at:
                return self._at[path]
            if not path:
                return None, None
            path = path[:-1]

    def issue(self, path: Path, message: str, fix: str) -> RecipeIssue:
        line, column = self.of(path)
        return RecipeIssue(message, fix, self.source, line, column, format_path(path))


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_yaml(text: str, source: str) -> tuple[Any, Positions]:
    positions = Positions(source)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        problem = exc.problem or str(exc)
        raise RecipeError(
            [
                RecipeIssue(
                    f"this is not valid YAML: {problem}",
                    "check indentation, colons and quotes around this position",
                    source,
                    line,
                    column,
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise RecipeError([RecipeIssue(f"this is not valid YAML: {exc}", "", source)]) from None
    if node is None:
        raise RecipeError(
            [RecipeIssue("the recipe is empty", "start from a recipe in recipes/", source, 1, 1)]
        )
    constructor = yaml.SafeLoader("")
    return _build(node, (), positions, constructor, set()), positions


def _build(
    node: yaml.Node,
    path: Path,
    positions: Positions,
    constructor: yaml.SafeLoader,
    active: set[int],
) -> Any:
    positions.set(path, node)
    if id(node) in active:
        raise RecipeError(
            [positions.issue(path, "a YAML alias refers to itself (a cycle)", "remove the cycle")]
        )
    if isinstance(node, yaml.MappingNode):
        active.add(id(node))
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise RecipeError(
                    [positions.issue(path, "YAML merge keys (<<) are not supported",
                                     "write the keys out")]
                )
            if not isinstance(key_node, yaml.ScalarNode):
                raise RecipeError(
                    [positions.issue(path, "a mapping key must be a plain name", "quote the key")]
                )
            key = str(key_node.value)
            child = (*path, key)
            if key in out:
                positions.set(child, key_node)
                raise RecipeError(
                    [positions.issue(child, f"the key {key!r} appears twice",
                                     "keep one of them")]
                )
            out[key] = _build(value_node, child, positions, constructor, active)
            positions.set(child, key_node)  # errors about a key point at the key
        active.discard(id(node))
        return out
    if isinstance(node, yaml.SequenceNode):
        active.add(id(node))
        items = [
            _build(item, (*path, i), positions, constructor, active)
            for i, item in enumerate(node.value)
        ]
        active.discard(id(node))
        return items
    try:
        return constructor.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise RecipeError([positions.issue(path, f"cannot read this value: {exc}", "")]) from None
