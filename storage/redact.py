"""Keep secrets out of the store: option keys like ``api_key`` are masked in the recipe text,
every secret value found (in the recipe, in URL userinfo such as ``http://user:pass@host``,
in secret-named environment variables) is scrubbed from whatever is written (requests,
responses, errors, the task), and credential patterns (URL userinfo, authorization and
api-key headers) are masked even when the secret was never seen before."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ttc.errors import RecipeError
from ttc.recipe.yaml_source import load_yaml
from ttc.secrets import (
    MASK,
    MIN_SECRET,
    SECRET_KEY,
    SECRET_NAME,
    SecretMask,
    environment_secrets,
    is_secret_key,
    secrets_in,
)

__all__ = ["MASK", "MIN_SECRET", "SECRET_KEY", "Redactor", "is_secret_key"]

_KEY_VALUE = re.compile(
    rf"""(?P<key>["']?(?<![\w-])[\w-]*?{SECRET_NAME}["']?\s*:[ \t]*)"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s,}\]#][^,}\]#\n]*?)(?=\s*(?:[,}\]#\n]|$))""",
    re.IGNORECASE,
)
"""``api_key: value`` in YAML. A key starts only where a run of name characters starts, so a
long word is scanned once (matching from every character made a 40 kB word take minutes)."""


class Redactor(SecretMask):
    """Masks the secrets of one run."""

    @classmethod
    def for_recipe(cls, recipe_text: str) -> Redactor:
        """Secrets from the recipe's secret-named keys and URLs, and the environment."""
        found: list[str] = []
        try:  # the core loader: bounded even for a hostile text
            data, _ = load_yaml(recipe_text, "<recipe>")
            found.extend(secrets_in(data))
        except RecipeError:  # an unparsable recipe still gets its key: value lines masked
            pass
        found.extend(environment_secrets())
        return cls(found)

    def recipe(self, recipe_text: str) -> str:
        """The recipe with every secret-named key's value masked (formatting kept)."""
        masked = _KEY_VALUE.sub(lambda m: m.group("key") + f'"{MASK}"', recipe_text)
        return self.text(masked)

    def data(self, value: Any) -> Any:
        """A JSON-ready copy of ``value`` with secret keys masked and secrets scrubbed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {str(k): MASK if is_secret_key(str(k)) and v else self.data(v)
                    for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        return value
