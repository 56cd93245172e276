"""Reading tasks for ``ttc run``: one ``--input`` or a JSONL file (the data set format, see
``ttc.dataset``), with clear errors."""

from __future__ import annotations

from pathlib import Path

from ttc.dataset import read_jsonl
from ttc.errors import UsageError
from ttc.state import Task


def read_tasks(input_text: str | None, input_file: Path | None,
               reference: str | None = None) -> list[Task]:
    if (input_text is None) == (input_file is None):
        raise UsageError("give exactly one of --input TEXT or --input-file FILE.jsonl")
    if reference is not None and input_file is not None:
        raise UsageError("--reference goes with --input; in a file, give each task its "
                         '"reference"')
    if input_text is not None:
        if not input_text.strip():
            raise UsageError("--input is empty; give the question to answer")
        return [Task(prompt=input_text, reference=reference)]
    assert input_file is not None
    return [item.task for item in read_jsonl(input_file)]
