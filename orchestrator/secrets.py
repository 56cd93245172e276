"""Recognising and masking credentials in text the core shows (errors, logs, the terminal).

The run store masks more (storage/redact.py builds on this module); the core keeps only what
its own messages need, so it never imports storage.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
SECRET_NAME = (r"(?:api[_-]?key|apikey|access[_-]?key|private[_-]?key|secret(?:[_-]?key)?"
               r"|token|password|passwd|authorization|credentials?|bearer)")
SECRET_KEY = re.compile(rf"(?:^|[_-]){SECRET_NAME}$", re.IGNORECASE)
"""A key whose value is a secret: ``api_key``, ``hf_token``, ``x-api-key`` (not
``max_tokens``)."""
MIN_SECRET = 8
"""Shorter values are not scrubbed by value (they would scrub ordinary words); patterns such
as URL userinfo are masked whatever their length."""

_URL_USERINFO = re.compile(
    r"(?P<scheme>(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*+://)(?P<userinfo>[^\s/?#\"'<>\\]+)@")
"""``scheme://user:password@host``: greedy up to the authority's last ``@`` (a password may
hold an unencoded ``@``), never past a ``/``, a space or a quote. A scheme starts only where
a run of scheme characters starts, so a long run is scanned once, not once per character."""
_HEADER = re.compile(
    r"(?P<key>authorization|api[_-]?key|api\s+key\s+provided)"
    r"(?P<sep>[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<scheme>(?:bearer|basic|token)\s+)?(?P<value>[^\s\"',;}\]]+)",
    re.IGNORECASE,
)
"""Header-like ``Authorization: Bearer …``, ``x-api-key: …`` and a server's echo ``Incorrect
API key provided: …`` (literal names, no open-ended prefix: linear time on any text)."""
_BEARER = re.compile(r"\b(?P<scheme>Bearer)\s+(?P<value>(?=\S*\d)[A-Za-z0-9._~+/=-]{16,})")
"""A bearer token in free text (16 characters or more, with a digit: not ``Bearer bonds``)."""
_AUTH_SCHEME = re.compile(r"^\s*(?:bearer|basic|token)\s+(?P<value>\S+)", re.IGNORECASE)


def is_secret_key(key: str) -> bool:
    return bool(SECRET_KEY.search(key))


def mask_credentials(text: str) -> str:
    """``text`` with URL userinfo, authorization/api-key header values and bearer tokens
    masked, whether or not the secret is known."""
    if "://" in text:
        text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    text = _HEADER.sub(_header_masked, text)
    return _BEARER.sub(lambda m: f"{m.group('scheme')} {MASK}", text)


def _header_masked(match: re.Match[str]) -> str:
    if match.group("value") == MASK:
        return match.group(0)
    return f"{match.group('key')}{match.group('sep')}{match.group('scheme') or ''}{MASK}"


def url_credentials(text: str) -> list[str]:
    """The userinfo of every URL in ``text`` and each password in it (``user:pass`` and
    ``pass``), so the value is scrubbed even where it appears without its URL."""
    found: list[str] = []
    for match in _URL_USERINFO.finditer(text):
        userinfo = match.group("userinfo")
        found.append(userinfo)
        found.extend(part for part in userinfo.split(":", 1)[1:] if part)
    return found


def secrets_in(value: Any) -> list[str]:
    """Secret values in parsed data: values of secret-named keys (and the token after
    ``Bearer``), URL userinfo in any text."""
    found: list[str] = []
    _collect(value, found)
    return found


def _collect(value: Any, found: list[str]) -> None:
    stack = [value]
    while stack:  # iterative: data can be deep
        item = stack.pop()
        if isinstance(item, Mapping):
            for key, child in item.items():
                if is_secret_key(str(key)) and isinstance(child, (str, int)) \
                        and not isinstance(child, bool) and child != "":
                    found.append(str(child))
                    scheme = _AUTH_SCHEME.match(str(child))
                    if scheme:  # "Bearer sk-…": the token alone may be echoed back
                        found.append(scheme.group("value"))
                else:
                    stack.append(child)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, str) and "@" in item:
            found.extend(url_credentials(item))


def environment_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of secret-named environment variables and URL credentials in any variable
    (``OPENAI_BASE_URL=https://user:pass@…``)."""
    env = os.environ if environ is None else environ
    found = [v for k, v in env.items() if v and is_secret_key(k.lower())]
    for value in env.values():
        if "@" in value and "://" in value:
            found.extend(url_credentials(value))
    return found


class SecretMask:
    """Masks known secret values and credential patterns in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len,
                              reverse=True)

    @classmethod
    def for_data(cls, data: Any, *, environment: bool = True) -> SecretMask:
        """The secrets in ``data`` (a parsed recipe) and, by default, the environment."""
        return cls([*secrets_in(data), *(environment_secrets() if environment else [])])

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return mask_credentials(value)


class MaskingFilter(logging.Filter):
    """A log filter that masks credentials in each record's message (a runtime's retry
    warning quotes its URL, which may carry ``user:pass@``)."""

    def __init__(self, mask: SecretMask | None = None) -> None:
        super().__init__()
        self.mask = mask or SecretMask(environment_secrets())

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self.mask.text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
