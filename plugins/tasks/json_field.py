"""``json_field``: one field of the last JSON object in the completion."""

from __future__ import annotations

import json
import re
from collections.abc import Hashable
from typing import Any

from ttc.plugin_system import hookimpl
from ttc.registry import RegisterTask
from ttc.task_format import TaskFormat, TaskFormatConfig

_FENCED_JSON = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL | re.IGNORECASE)


class JsonFieldConfig(TaskFormatConfig):
    field: str = "answer"
    """The field to read; dots walk into nested objects (``result.value``)."""


class JsonField(TaskFormat[JsonFieldConfig]):
    """A field of the last JSON object in the text (fenced or inline); values compare as
    canonical JSON, strings case- and whitespace-insensitively."""

    name = "json_field"
    Config = JsonFieldConfig

    def extract(self, text: str) -> str | None:
        config = self.config
        for obj in reversed(_objects(text)):
            value: Any = obj
            for part in config.field.split("."):
                if not isinstance(value, dict) or part not in value:
                    value = _MISSING
                    break
                value = value[part]
            if value is _MISSING or value is None:
                continue
            return value.strip() or None if isinstance(value, str) else _canonical(value)
        return None

    def key(self, answer: str) -> Hashable:
        try:
            return _canonical(json.loads(answer))
        except (ValueError, RecursionError):
            return " ".join(answer.split()).casefold()


_MISSING = object()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _objects(text: str) -> list[dict]:
    """Every JSON object found in the text, in order: fenced blocks, then balanced braces."""
    found: list[tuple[int, dict]] = []
    decoder = json.JSONDecoder()
    for match in _FENCED_JSON.finditer(text):
        try:
            value = json.loads(match.group(1))
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            found.append((match.start(), value))
    index = text.find("{")
    while index >= 0:
        try:
            value, end = decoder.raw_decode(text, index)
        except (ValueError, RecursionError):
            index = text.find("{", index + 1)
            continue
        if isinstance(value, dict):
            found.append((index, value))
        index = text.find("{", end)
    found.sort(key=lambda item: item[0])
    return [value for _, value in found]


@hookimpl
def ttc_register_tasks(register: RegisterTask) -> None:
    register(JsonField)
