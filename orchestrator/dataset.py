"""Data sets: JSONL files of tasks, read with errors that name the file and line.

One task per line: ``prompt`` (alias ``input``) or ``messages``; ``reference``; optional
``id`` (else the line number), ``task`` (the answer format used to grade it, e.g.
``number``), ``tests`` (statements for code tasks) and ``metadata``. Fields it does not know
go to ``metadata`` with one warning per file, so data sets made for other tools load as they
are. A line may also be a bare JSON string: a prompt with nothing else.

Named data sets come from plugins (``ttc_register_datasets``), so a package can ship its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ttc.errors import UsageError
from ttc.state import Task

logger = logging.getLogger(__name__)

KNOWN = frozenset({"prompt", "input", "messages", "reference", "id", "task", "tests",
                   "metadata"})
"""The fields of a data set line; any other goes to ``metadata``."""


class DatasetError(UsageError):
    """A data set that cannot be read; the message names the file, the line and the fix."""


@dataclass(frozen=True, slots=True)
class Item:
    """One task of a data set and where it was read from (for messages)."""

    task: Task
    where: str
    """``file:line``, or ``name#index`` for a data set made in code."""


@dataclass(frozen=True, slots=True)
class Dataset:
    """A named data set a plugin registers: what it measures and how to load it."""

    name: str
    """Unique among data sets: ``ttc eval --dataset NAME``."""
    description: str
    """What it measures, in a sentence or two (``ttc datasets`` and the README show it)."""
    load: Callable[[], list[Item]] = field(repr=False)
    """Returns the items; called only when the data set is used (``read_jsonl`` reads a
    file)."""
    answer_format: str | None = None
    """The format its items are graded in, when they all share one."""
    size: int | None = None
    """How many items it has, when known without loading it."""


def read_jsonl(path: str | Path) -> list[Item]:
    """The items of a JSONL data set file; ``DatasetError`` for the first bad line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the data set ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_number = raw[: exc.start].count(b"\n") + 1
        raise DatasetError(f"{path}:{line_number}: the file is not UTF-8 (byte {exc.start}); "
                           "save it as UTF-8") from None
    items: list[Item] = []
    unknown: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(
                f"{where}:{exc.colno}: not valid JSON ({exc.msg}); fix: one JSON object per "
                'line, e.g. {"prompt": "What is 2 + 3?", "reference": "5"}') from None
        items.append(Item(task_from_line(value, where, default_id=str(number), unknown=unknown),
                          where))
    if not items:
        raise DatasetError(f"{path}: the data set has no tasks; fix: add one JSON object per "
                           'line, e.g. {"prompt": "What is 2 + 3?", "reference": "5"}')
    if unknown:
        logger.warning("%s: fields %s are not task fields; kept in each task's metadata",
                       path, ", ".join(sorted(unknown)))
    _check_unique_ids(items)
    return items


def task_from_line(value: Any, where: str, *, default_id: str | None = None,
                   unknown: set[str] | None = None) -> Task:
    """One data set line as a Task; unknown fields go to metadata (and into ``unknown``)."""
    if isinstance(value, str):
        if not value.strip():
            raise DatasetError(f"{where}: the line is an empty string; fix: give the question")
        return Task(prompt=value, id=default_id)
    if not isinstance(value, Mapping):
        raise DatasetError(f"{where}: each line must be a JSON object (or a string), not "
                           f"{type(value).__name__}")
    if "prompt" in value and "input" in value:
        raise DatasetError(f"{where}: the line has both 'prompt' and 'input' (an alias); "
                           "fix: keep one")
    prompt = value.get("prompt", value.get("input"))
    messages = value.get("messages")
    if not (isinstance(prompt, str) and prompt.strip()) and not messages:
        raise DatasetError(f"{where}: the line has no question; fix: add \"prompt\": \"...\" "
                           '(or "messages": [{"role": "user", "content": "..."}])')
    if prompt is not None and not isinstance(prompt, str):
        raise DatasetError(f"{where}: 'prompt' must be a string, not {type(prompt).__name__}")
    if messages is not None and not _messages_ok(messages):
        raise DatasetError(f"{where}: 'messages' must be a list of {{\"role\": ..., "
                           '"content": ...}} objects with string values')
    reference = value.get("reference")
    if reference is not None and not isinstance(reference, (str, int, float)):
        raise DatasetError(f"{where}: 'reference' must be a string or a number, not "
                           f"{type(reference).__name__}")
    if isinstance(reference, bool):
        raise DatasetError(f"{where}: 'reference' must be a string or a number, not a boolean")
    tests = value.get("tests") or []
    if isinstance(tests, str):
        tests = [tests]
    if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
        raise DatasetError(f"{where}: 'tests' must be a list of test statements (strings)")
    answer_format = value.get("task")
    if answer_format is not None and not isinstance(answer_format, str):
        raise DatasetError(f"{where}: 'task' names an answer format (e.g. \"number\"), not "
                           f"{type(answer_format).__name__}")
    metadata = value.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise DatasetError(f"{where}: 'metadata' must be an object")
    extra = {k: v for k, v in value.items() if k not in KNOWN}
    if unknown is not None:
        unknown.update(extra)
    item_id = value.get("id", default_id)
    return Task.of({
        "prompt": prompt or "",
        "messages": messages or (),
        "reference": None if reference is None else str(reference),
        "id": None if item_id is None else str(item_id),
        "metadata": {**metadata, **extra},
        "answer_format": answer_format,
        "tests": tests,
    })


def _messages_ok(messages: Any) -> bool:
    return isinstance(messages, list) and bool(messages) and all(
        isinstance(m, Mapping) and isinstance(m.get("role"), str)
        and isinstance(m.get("content"), str) for m in messages)


def _check_unique_ids(items: Sequence[Item]) -> None:
    seen: dict[str, str] = {}
    for item in items:
        key = str(item.task.id)
        if key in seen:
            raise DatasetError(f"{item.where}: id {key!r} is used twice (first at "
                               f"{seen[key]}); fix: give every task its own id")
        seen[key] = item.where


def dataset_hash(items: Sequence[Item]) -> str:
    """A digest of the tasks (not of where they came from): the same questions, references
    and tests give the same hash wherever the file lives."""
    digest = hashlib.blake2b(digest_size=16)
    for item in items:
        digest.update(json.dumps(item.task.to_dict(), sort_keys=True,
                                 ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()
