"""Keep secrets out of the store: option keys like ``api_key`` are masked in the recipe text,
and every secret value found (in the recipe or in secret-named environment variables) is
scrubbed from whatever is written (requests, responses, errors, the task)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
_SECRET_NAME = (r"(?:api[_-]?key|apikey|access[_-]?key|private[_-]?key|secret(?:[_-]?key)?"
                r"|token|password|passwd|authorization|credentials?|bearer)")
SECRET_KEY = re.compile(rf"(?:^|[_-]){_SECRET_NAME}$", re.IGNORECASE)
"""A key whose value is a secret: ``api_key``, ``hf_token``, ``client_secret`` (not
``max_tokens``)."""
_KEY_VALUE = re.compile(
    rf"""(?P<key>["']?[\w-]*?{_SECRET_NAME}["']?\s*:[ \t]*)"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s,}\]#][^,}\]#\n]*?)(?=\s*(?:[,}\]#\n]|$))""",
    re.IGNORECASE,
)
MIN_SECRET = 8
"""Shorter values are not treated as secrets (they would scrub ordinary words)."""


def is_secret_key(key: str) -> bool:
    return bool(SECRET_KEY.search(key))


class Redactor:
    """Masks the secrets of one run."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len,
                              reverse=True)

    @classmethod
    def for_recipe(cls, recipe_text: str) -> Redactor:
        """Secrets from the recipe's secret-named keys and the environment."""
        found: list[str] = []
        try:
            import yaml

            _collect(yaml.safe_load(recipe_text), found)
        except Exception:  # an unparsable recipe still gets its key: value lines masked
            pass
        found.extend(v for k, v in os.environ.items() if is_secret_key(k.lower()) and v)
        return cls(found)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def recipe(self, recipe_text: str) -> str:
        """The recipe with every secret-named key's value masked (formatting kept)."""
        masked = _KEY_VALUE.sub(lambda m: m.group("key") + f'"{MASK}"', recipe_text)
        return self.text(masked)

    def data(self, value: Any) -> Any:
        """A JSON-ready copy of ``value`` with secret keys masked and secrets scrubbed."""
        if isinstance(value, str):
            return self.text(value) if self.secrets else value
        if isinstance(value, Mapping):
            return {str(k): MASK if is_secret_key(str(k)) and v else self.data(v)
                    for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        return value


def _collect(value: Any, found: list[str]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if is_secret_key(str(key)) and isinstance(item, (str, int)) and item != "":
                found.append(str(item))
            else:
                _collect(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, found)
