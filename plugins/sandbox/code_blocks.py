"""Find the code in a model's reply, and the names tests expect it to define."""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterable, Sequence

_FENCE = re.compile(r"```(?:python|py)?[^\n]*\n(.*?)```", re.DOTALL)


def extract_code(text: str, defines: Sequence[str] = ()) -> str:
    """The code of a reply. Without ``defines``: the last fenced block, else the whole
    reply. With ``defines`` (e.g. the functions the tests call, see ``called_names``): the
    last block defining all of them -- or, when they are spread out, the last block
    defining each -- preceded by the earlier blocks that define the helpers it uses."""
    blocks = _FENCE.findall(text)
    if not blocks:
        return text
    wanted = list(dict.fromkeys(defines))
    if not wanted:
        return blocks[-1]
    defined = [_defined_names(block) for block in blocks]
    chosen = [max((i for i, names in enumerate(defined) if set(wanted) <= names), default=-1)]
    if chosen[0] < 0:
        chosen = sorted({i for name in wanted
                         for i in [_last(defined, name)] if i is not None})
    if not chosen:
        return blocks[-1]
    picked = set(chosen)
    for index in chosen:
        picked |= _helpers(blocks, defined, index)
    return "\n".join(blocks[i].rstrip("\n") + "\n" for i in sorted(picked))


def called_names(tests: Iterable[str]) -> tuple[str, ...]:
    """The names tests expect the code to define, in order of first use: names they call
    or pass along (``check(candidate)``) without binding them, importing them or getting
    them from builtins. ``assert add(2, 3) == 5`` -> ``("add",)``."""
    used: dict[str, None] = {}
    bound: set[str] = set()
    for test in tests:
        try:
            tree = ast.parse(test)
        except SyntaxError:
            continue
        names = []
        for node in ast.walk(tree):
            bound |= _bound_by(node)
            if isinstance(node, ast.arg):
                bound.add(node.arg)
            elif isinstance(node, ast.Name):
                if isinstance(node.ctx, ast.Store):
                    bound.add(node.id)
                else:
                    names.append(node)
        for node in sorted(names, key=lambda n: (n.lineno, n.col_offset)):
            used.setdefault(node.id)
    return tuple(name for name in used if name not in bound and not hasattr(builtins, name))


def _last(defined: list[set[str]], name: str) -> int | None:
    return max((i for i, names in enumerate(defined) if name in names), default=None)


def _helpers(blocks: list[str], defined: list[set[str]], index: int) -> set[int]:
    """Blocks before ``index`` defining names it uses without defining (transitively)."""
    picked: set[int] = set()
    pending = [index]
    while pending:
        current = pending.pop()
        for name in _used_names(blocks[current]) - defined[current]:
            helper = max((i for i in range(index) if name in defined[i]), default=None)
            if helper is not None and helper not in picked:
                picked.add(helper)
                pending.append(helper)
    return picked


def _defined_names(source: str) -> set[str]:
    """Top-level functions, classes, assignments and imports of a block (a regex for
    blocks that do not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(re.findall(r"^(?:async\s+)?(?:def|class)\s+(\w+)", source, re.MULTILINE))
    names: set[str] = set()
    for node in tree.body:
        names |= _bound_by(node)
    return names


def _bound_by(node: ast.AST) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return set()


def _used_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {node.id for node in ast.walk(tree)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
