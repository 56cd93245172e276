"""docs/methods.md stays the one place methods are cited: every citation of it in the code
names a section it has, nothing cites the catalogue outside the repository any more, and every
built-in component that implements a method is listed there by name."""

from __future__ import annotations

import re
from pathlib import Path

from ttc import PluginHost

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "methods.md"
THIS = Path(__file__).resolve()
CODE_FOLDERS = ("orchestrator", "plugins", "storage", "ui", "tests", "bench", "examples")
SKIPPED_PARTS = {"__pycache__", "build", "dist", ".venv"}
METHOD_KINDS = {"selector", "generator", "verifier", "scorer", "refiner", "search",
                "controller", "executor", "critic", "ranker", "fuser"}
"""Component kinds that implement a method: each needs an entry in docs/methods.md."""

CODE = r"(?:§\d+|[A-Z]{1,2}\d+)\b"
CITATION = re.compile(r"docs/methods\.md((?:(?:,\s*|\s+and\s+|\s*/\s*|\s+)" + CODE + r")+)")
EXTERNAL = re.compile(r"\bMETHODS" + r"(?:\.md\b|\s*\(?(?:§\s*\d|[A-Z]{1,2}\d+\b))")
"""The old forms: the catalogue's file name, or the word in capitals followed by a section
code. The variable ``METHODS = {...}`` of the search tests is not a citation."""
HEADING = re.compile(r"^#{2,3} (§\d+|[A-Z]{1,2}\d+) \S", re.MULTILINE)
INDEX_ROW = re.compile(r"^\| `(\w+)` \| \w+ \| ([^|]+) \|$", re.MULTILINE)


def sections() -> set[str]:
    """The section codes docs/methods.md defines (``S2``, ``§7``, …)."""
    return set(HEADING.findall(DOC.read_text(encoding="utf-8")))


def code_files() -> list[Path]:
    files = []
    for folder in CODE_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = set(path.relative_to(ROOT).parts)
            if parts & SKIPPED_PARTS or any(p.endswith(".egg-info") for p in parts):
                continue
            if path.resolve() != THIS:
                files.append(path)
    return files


def lines_of(path: Path):
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        yield f"{path.relative_to(ROOT)}:{number}", line


def test_the_document_has_its_sections_and_each_code_once() -> None:
    codes = HEADING.findall(DOC.read_text(encoding="utf-8"))
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    assert duplicates == [], f"docs/methods.md defines these codes twice: {duplicates}"
    for code in ("G1", "S1", "S9", "B1", "V1", "C3", "RF4", "SS4", "§7"):
        assert code in codes, f"docs/methods.md has no section {code}"


def test_every_citation_in_the_code_names_a_section_of_docs_methods() -> None:
    known = sections()
    unknown, found = [], 0
    for path in code_files():
        for where, line in lines_of(path):
            for match in CITATION.finditer(line):
                for code in re.findall(CODE, match.group(1)):
                    found += 1
                    if code not in known:
                        unknown.append(f"{where}: docs/methods.md {code}")
    assert found, "no citation of docs/methods.md found at all: is the pattern still right?"
    assert unknown == [], ("these citations name no section of docs/methods.md (add the "
                           "section or fix the code):\n" + "\n".join(unknown))


def test_no_code_cites_the_external_methods_catalogue() -> None:
    stale = [f"{where}: {line.strip()}" for path in code_files()
             for where, line in lines_of(path) if EXTERNAL.search(line)]
    assert stale == [], ("cite docs/methods.md CODE instead of the catalogue outside the "
                         "repository:\n" + "\n".join(stale))


def test_every_method_component_is_in_docs_methods() -> None:
    text = DOC.read_text(encoding="utf-8")
    registry = PluginHost(load_entry_points=False).registry
    missing = sorted(name for name, entry in registry.components.items()
                     if entry.obj.kind in METHOD_KINDS and f"`{name}`" not in text)
    assert missing == [], (f"components with no entry in docs/methods.md: {missing}; add "
                           "each to its component index and to the section of its method")


def test_the_component_index_points_at_sections_that_exist() -> None:
    text = DOC.read_text(encoding="utf-8")
    known = sections()
    rows = INDEX_ROW.findall(text)
    assert rows, "docs/methods.md has no component index"
    wrong = [f"{name} → {target.strip()}" for name, target in rows
             if not set(re.findall(CODE, target)) or not set(re.findall(CODE, target)) <= known]
    assert wrong == [], f"index rows naming no existing section: {wrong}"
    registry = PluginHost(load_entry_points=False).registry
    indexed = {name for name, _ in rows}
    unindexed = sorted(name for name, entry in registry.components.items()
                       if entry.obj.kind in METHOD_KINDS and name not in indexed)
    assert unindexed == [], f"components missing from the component index: {unindexed}"


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")


def test_links_into_docs_methods_reach_a_heading() -> None:
    anchors = {_anchor(h) for h in re.findall(r"^#{1,6} (.+)$",
                                              DOC.read_text(encoding="utf-8"), re.MULTILINE)}
    broken = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        for anchor in re.findall(r"\]\((?:\./)?methods\.md#([^)\s]+)\)",
                                 page.read_text(encoding="utf-8")):
            if anchor not in anchors:
                broken.append(f"{page.name}: methods.md#{anchor}")
    own = re.findall(r"\]\(#([^)\s]+)\)", DOC.read_text(encoding="utf-8"))
    broken += [f"methods.md: #{a}" for a in own if a not in anchors]
    assert broken == [], f"links to headings docs/methods.md does not have: {broken}"
