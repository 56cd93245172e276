"""Reading tasks for ``ttc run``: one ``--input`` or a JSONL file, with clear errors."""

from __future__ import annotations

import json
from pathlib import Path

from ttc.errors import UsageError
from ttc.state import Task


def read_tasks(input_text: str | None, input_file: Path | None) -> list[Task]:
    if (input_text is None) == (input_file is None):
        raise UsageError("give exactly one of --input TEXT or --input-file FILE.jsonl")
    if input_text is not None:
        if not input_text.strip():
            raise UsageError("--input is empty; give the question to answer")
        return [Task(prompt=input_text)]
    assert input_file is not None
    try:
        raw = input_file.read_bytes()
    except OSError as exc:
        raise UsageError(f"{input_file}: cannot read the input file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UsageError(
            f"{input_file}:{line}: the input file is not UTF-8 (byte {exc.start}); "
            "save it as UTF-8"
        ) from None
    tasks = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"{input_file}:{number}:{exc.colno}: not valid JSON ({exc.msg}); each line must "
                'be a JSON string or an object like {"prompt": "..."}'
            ) from None
        if not isinstance(value, (str, dict)):
            raise UsageError(
                f"{input_file}:{number}: each line must be a JSON string or an object with "
                '"prompt" or "messages"'
            )
        try:
            tasks.append(Task.of(value))
        except (ValueError, TypeError, AttributeError) as exc:
            raise UsageError(f"{input_file}:{number}: {exc}") from None
    if not tasks:
        raise UsageError(f"{input_file}: the input file has no tasks; add one JSON line per task")
    return tasks
