"""The hook reference in docs/plugins.md, generated from ``ttc.hookspecs``: every hook with
its arguments and contract, grouped as the spec file groups them, and the payload types a
hook receives with their fields (types and docstrings read from the source).

    python -m ttc.testing.hook_reference                           # print the section
    python -m ttc.testing.hook_reference --write docs/plugins.md   # replace it in the file

A test compares the file with what this generates now, so a new hook cannot go undocumented.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import inspect
import itertools
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeGuard

from ttc import hookspecs

COMMAND = "python -m ttc.testing.hook_reference --write docs/plugins.md"
BEGIN = ("<!-- hook reference: generated from orchestrator/hookspecs.py by "
         f"`{COMMAND}`; do not edit by hand -->")
END = "<!-- end of the generated hook reference -->"
NESTED = 2
"""How deep payload types are followed: a hook's argument types, then their fields' types."""


def hook_reference() -> str:
    """The generated section, markers included."""
    source = inspect.getsource(hookspecs)
    names = _type_names(source)
    lines = [BEGIN, "", "## Hook reference", "",
             f"Hook spec version **{hookspecs.HOOKSPEC_VERSION}** "
             "(`ttc.hookspecs.HOOKSPEC_VERSION`). " + _doc_of_version(source), ""]
    payloads: list[type] = []
    for section, hooks in _sections(source):
        lines += [f"### {section[:1].upper()}{section[1:]}", ""]
        for name in hooks:
            function = getattr(hookspecs, name)
            lines += _hook(function, names, payloads)
    lines += ["## Payload types", "",
              "What hooks receive, with every field. Read them; never change them (a "
              "lifecycle hook observes a run).", ""]
    for cls in payloads:
        lines += _payload(cls)
    lines.append(END)
    return "\n".join(lines) + "\n"


def _doc_of_version(source: str) -> str:
    tree = ast.parse(source)
    for node, after in itertools.pairwise(tree.body):
        if (isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "HOOKSPEC_VERSION" for t in node.targets)
                and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)):
            return " ".join(str(after.value.value).split())
    return ""


def _sections(source: str) -> Iterator[tuple[str, list[str]]]:
    """Hooks in file order, under the ``# --- section ---`` comment above them."""
    section = "hooks"
    hooks: list[str] = []
    for line in source.splitlines():
        heading = re.match(r"# --- (.+?) -+$", line)
        if heading:
            if hooks:
                yield section, hooks
            section, hooks = heading.group(1), []
        match = re.match(r"def (ttc_\w+)\(", line)
        if match:
            hooks.append(match.group(1))
    if hooks:
        yield section, hooks


def _type_names(source: str) -> dict[str, Any]:
    """The names hookspecs.py imports for its annotations (under TYPE_CHECKING), resolved."""
    found: dict[str, Any] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ttc"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                found[alias.asname or alias.name] = getattr(module, alias.name)
    return found


def _hook(function: Any, names: dict[str, Any], payloads: list[type]) -> list[str]:
    signature = inspect.signature(function)
    marker = getattr(function, "ttc_spec", None) or {}
    args = ", ".join(signature.parameters)
    lines = [f"#### `{function.__name__}({args})`", ""]
    rows = [f"- `{p.name}`: `{p.annotation}`{_see(str(p.annotation), names)}"
            for p in signature.parameters.values()]
    rows.append(f"- returns `{signature.return_annotation}`"
                + (" — the first plugin that returns something other than None wins"
                   if marker.get("firstresult") else ""))
    lines += [*rows, "", inspect.cleandoc(function.__doc__ or "(undocumented)"), ""]
    for parameter in signature.parameters.values():
        _collect(str(parameter.annotation), names, payloads, NESTED)
    return lines


def _see(annotation: str, names: dict[str, Any]) -> str:
    """Links to the payload types an annotation names."""
    links = [f"[`{w}`](#{w.lower()})" for w in dict.fromkeys(re.findall(r"\w+", annotation))
             if _is_payload(names.get(w))]
    return f" (see {', '.join(links)})" if links else ""


def _collect(annotation: str, names: dict[str, Any], payloads: list[type], depth: int) -> None:
    if depth <= 0:
        return
    for word in re.findall(r"[A-Za-z_]\w*", annotation):
        cls = names.get(word)
        if not _is_payload(cls) or cls in payloads:
            continue
        payloads.append(cls)
        module = vars(sys.modules[cls.__module__])
        for _, field_type, _ in _fields(cls):
            _collect(field_type, {**module, **names}, payloads, depth - 1)


def _is_payload(cls: Any) -> TypeGuard[type[Any]]:
    return (isinstance(cls, type) and dataclasses.is_dataclass(cls)
            and cls.__module__.startswith("ttc."))


def _payload(cls: type) -> list[str]:
    lines = [f"### `{cls.__name__}`", "", f"`{cls.__module__}.{cls.__qualname__}`"]
    doc = cls.__doc__ or ""
    if doc and not doc.startswith(f"{cls.__name__}("):  # not the dataclass's generated one
        lines += ["", " ".join(inspect.cleandoc(doc).split())]
    lines += ["", "| field | type | meaning |", "|---|---|---|"]
    for name, field_type, field_doc in _fields(cls):
        lines.append(f"| `{name}` | `{_cell(field_type)}` | {_cell(field_doc)} |")
    return [*lines, ""]


def _fields(cls: type) -> list[tuple[str, str, str]]:
    """(name, annotation as written, docstring) of each field, then each documented
    property."""
    docs = _attribute_docs(cls)
    out = [(f.name, str(f.type), docs.get(f.name, "")) for f in dataclasses.fields(cls)]
    for name, member in vars(cls).items():
        if isinstance(member, property) and member.__doc__:
            annotation = inspect.signature(member.fget).return_annotation if member.fget else ""
            out.append((name, f"{annotation} (property)", member.__doc__))
    return out


def _attribute_docs(cls: type) -> dict[str, str]:
    """Field docstrings: the string right under an annotated class attribute."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs = {}
    for node, after in itertools.pairwise(body):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)):
            docs[node.target.id] = after.value.value
    return docs


def _cell(text: str) -> str:
    return " ".join(inspect.cleandoc(text).split()).replace("|", "\\|")


def write(path: Path) -> bool:
    """Replace the generated section of ``path``; True if it changed."""
    text = path.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < 0:
        raise SystemExit(f"{path} has no generated section (the lines {BEGIN!r} ... {END!r})")
    new = text[:start] + hook_reference().rstrip("\n") + text[end + len(END):]
    path.write_text(new, encoding="utf-8")
    return new != text


def section_of(path: Path) -> str:
    """The generated section as it stands in ``path`` (markers included)."""
    text = path.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    return text[start:end + len(END)] + "\n" if start >= 0 and end >= 0 else ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", type=Path, help="replace the section in this file")
    args = parser.parse_args(argv)
    if args.write:
        changed = write(args.write)
        print(f"{args.write}: {'updated' if changed else 'up to date'}", file=sys.stderr)
    else:
        sys.stdout.write(hook_reference())


if __name__ == "__main__":
    main()
