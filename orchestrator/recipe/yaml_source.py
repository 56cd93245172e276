"""YAML loading that remembers where every value came from (line and column)."""

from __future__ import annotations

from typing import Any

import yaml

from ttc.errors import RecipeError, RecipeIssue
from ttc.secrets import mask_credentials

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
        """The problem at ``path``; a credential quoted in the message (a value with
        ``user:pass@`` in its URL, say) is masked, since messages reach terminals and logs."""
        line, column = self.of(path)
        return RecipeIssue(mask_credentials(message), fix, self.source, line, column,
                           format_path(path))


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


MAX_CHARS = 1_000_000
"""A recipe longer than this is refused before parsing (the largest shipped recipe is a few
kilobytes; an imported Archon config with its source kept is tens)."""
MAX_DEPTH = 64
"""Nesting of lists and mappings; a repeat block costs three levels, so this allows ~20
nested repeats and keeps every recursive step (composer, builder, compiler) far from
Python's recursion limit."""
MAX_NODES = 20_000
"""Values (keys included) in the document, counted as written and again with every alias
expanded (the "billion laughs" defence). Shipped recipes hold a few hundred; PyYAML composes
~25k values a second, so the worst file is refused in about a second."""

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_CORE}{name}" for name in ("null", "bool", "int", "float", "str")}
_TEXT_TAGS = {f"{_CORE}timestamp", f"{_CORE}value"}
"""Read as the text written: a date in a recipe is text to ttc, and ``=`` is just ``=``."""
_FIX_LIMIT = "a recipe is a short file of plain values: remove the repetition or split it"


class _TooLarge(Exception):
    def __init__(self, message: str, fix: str, mark: yaml.Mark | None) -> None:
        super().__init__(message)
        self.message, self.fix, self.mark = message, fix, mark


class _BoundedLoader(yaml.SafeLoader):
    """A composer that stops at MAX_DEPTH levels, MAX_NODES values and MAX_CHARS of text
    (aliases expanded), so a hostile file fails fast and small instead of recursing or
    growing without end."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.depth = 0
        self.composed = 0
        self.sizes: dict[int, tuple[int, int]] = {}
        """(values, characters) of each finished node with aliases expanded: an alias
        re-uses its anchor's (a cycle's unfinished anchor counts as one, empty)."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        mark = self.peek_event().start_mark
        if self.check_event(yaml.AliasEvent):
            return super().compose_node(parent, index)  # sized by its parent, below
        self.depth += 1
        self.composed += 1
        if self.depth > MAX_DEPTH:
            raise _TooLarge(f"the recipe nests lists and mappings deeper than {MAX_DEPTH} "
                            "levels", "flatten it: recipes need only a few levels", mark)
        if self.composed > MAX_NODES:
            raise _TooLarge(f"the recipe has more than {MAX_NODES:,} values", _FIX_LIMIT, mark)
        node = super().compose_node(parent, index)
        self.depth -= 1
        if node is None:  # PyYAML's type; its composer makes a node for every value
            return None
        size, chars = 1, len(node.value) if isinstance(node, yaml.ScalarNode) else 0
        for child in _children(node):
            child_size, child_chars = self.sizes.get(id(child), (1, 0))
            size, chars = size + child_size, chars + child_chars
        fix = "write the values out, or use fewer aliases"
        if size > MAX_NODES:
            raise _TooLarge(f"YAML aliases expand this value to {size:,} values (more than "
                            f"{MAX_NODES:,})", fix, mark)
        if chars > MAX_CHARS:  # one long text repeated by aliases ("quadratic blowup")
            raise _TooLarge(f"YAML aliases expand this value to {chars:,} characters of text "
                            f"(more than {MAX_CHARS:,})", fix, mark)
        self.sizes[id(node)] = (size, chars)
        return node


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _compose(text: str, source: str) -> yaml.Node | None:
    if len(text) > MAX_CHARS:
        last_line = text.count("\n", 0, MAX_CHARS) + 1
        raise RecipeError([RecipeIssue(
            f"the recipe is longer than {MAX_CHARS:,} characters", _FIX_LIMIT, source,
            last_line, 1)])
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_node()
    except _TooLarge as exc:
        line = exc.mark.line + 1 if exc.mark else None
        column = exc.mark.column + 1 if exc.mark else None
        raise RecipeError([RecipeIssue(exc.message, exc.fix, source, line, column)]) from None
    finally:
        loader.dispose()


def load_yaml(text: str, source: str) -> tuple[Any, Positions]:
    """The document as plain values (dict, list, str, int, float, bool, None) and where each
    came from; any YAML problem, oversized input or unknown tag is a RecipeError."""
    positions = Positions(source)
    try:
        node = _compose(text, source)
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
    _check_tag(node, path, positions)
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
            positions.set(child, key_node)
            _check_tag(key_node, child, positions)
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
    if node.tag in _TEXT_TAGS:
        return str(node.value)
    try:
        return constructor.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise RecipeError([positions.issue(path, f"cannot read this value: {exc}",
                                           "write a plain number or quote the text")]) from None
    except ValueError:  # Python refuses to convert an integer of more than 4,300 digits
        raise RecipeError([positions.issue(path, "this number is too long to read",
                                           "write a smaller number")]) from None


def _check_tag(node: yaml.Node, path: Path, positions: Positions) -> None:
    """Only plain YAML values: ``!!python/object``, ``!!binary``, ``!custom`` and the like
    are refused, never silently read as something else."""
    collections: dict[type[yaml.Node], set[str]] = {
        yaml.MappingNode: {f"{_CORE}map"}, yaml.SequenceNode: {f"{_CORE}seq"}}
    expected = collections.get(type(node), _SCALAR_TAGS | _TEXT_TAGS)
    if node.tag in expected:
        return
    shown = node.tag.replace(_CORE, "!!", 1) if node.tag.startswith(_CORE) else node.tag
    raise RecipeError([positions.issue(
        path, f"unknown YAML tag {shown!r}: recipes hold only plain values (text, numbers, "
        "true/false, lists, mappings)", f"remove  {shown}  (quote the value if it is text)")])
