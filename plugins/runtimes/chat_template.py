"""Chat templates rendered exactly as transformers 5 renders them, without importing it.

Importing transformers costs most of a second; a chat template only needs jinja2. The
environment below copies ``transformers.utils.chat_template_utils`` (sandboxed and immutable,
``trim_blocks``/``lstrip_blocks``, loop controls, the same ``tojson``/``raise_exception``/
``strftime_now``/``dict``/``namespace``, the ``{% generation %}`` tag), and the inputs get the
same clean-up ``apply_chat_template`` gives them, so the same template renders the same text.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ttc.runtime import RequestError

MIN_JINJA = (3, 1, 6)
"""Older jinja2 releases have known sandbox escapes; transformers refuses them too."""

_REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")


class ChatTemplateError(RequestError):
    """The chat template is missing, does not compile, or refused the messages."""


def compile_template(source: str) -> Any:
    """A ``jinja2.Template`` for ``source``; raises ChatTemplateError on a syntax error."""
    import jinja2

    version = tuple(int(part) for part in re.findall(r"\d+", jinja2.__version__)[:3])
    if version < MIN_JINJA:
        raise ChatTemplateError(
            f"chat templates need jinja2>=3.1.6 (sandbox fixes), found {jinja2.__version__}")
    try:
        return _environment().from_string(source)
    except jinja2.TemplateError as error:
        raise ChatTemplateError(f"the chat template does not compile: {error}") from error


def render_template(template: Any, messages: list[dict[str, Any]], *,
                    add_generation_prompt: bool, tools: list[dict[str, Any]] | None,
                    variables: Mapping[str, Any]) -> str:
    """What ``apply_chat_template(messages, tokenize=False, ...)`` returns for one chat.

    ``variables`` are the special tokens and any extra template kwargs (extras win)."""
    import jinja2

    if not messages:
        raise ChatTemplateError(
            "cannot apply the chat template to an empty conversation: give at least one message")
    if tools is not None and not all(isinstance(tool, dict) for tool in tools):
        raise ChatTemplateError("tools must be JSON schemas (dicts)")
    chat = plain_data([{k: v for k, v in dict(m).items() if v is not None} for m in messages])
    for message in chat:
        if not isinstance(message, dict):
            raise ChatTemplateError(f"chat messages must be dicts, got {message!r}")
    try:
        return template.render(
            messages=_alias_reasoning(chat), tools=plain_data(tools), documents=None,
            add_generation_prompt=add_generation_prompt, **plain_data(dict(variables)))
    except jinja2.TemplateError as error:
        if type(error) is jinja2.TemplateError:  # the template's own ``raise_exception(...)``
            raise ChatTemplateError(
                f"the chat template refused these messages: {error}") from error
        raise ChatTemplateError(
            f"the chat template failed on these messages: {type(error).__name__}: {error}"
        ) from error
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as error:
        raise ChatTemplateError(
            f"the chat template failed on these messages: {type(error).__name__}: {error}"
        ) from error


def plain_data(value: Any) -> Any:
    """Rebuild template inputs from plain JSON types, as transformers does (rich objects can
    carry methods the sandbox does not know are dangerous)."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, Mapping):
        return {plain_data(key): plain_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_data(item) for item in value]
    if isinstance(value, tuple):
        return tuple(plain_data(item) for item in value)
    if any(c.__module__ == "numpy" and c.__name__ == "generic" for c in type(value).__mro__):
        return plain_data(value.item())  # a numpy scalar, without importing numpy
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if callable(getattr(value, "model_dump", None)):
        return plain_data(value.model_dump())
    return f"<{type(value).__name__}>"


def _alias_reasoning(chat: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Templates read a message's reasoning under different names: fill them all."""
    out = []
    for message in chat:
        reasoning = next((message[key] for key in _REASONING_FIELDS
                          if message.get(key) is not None), None)
        if reasoning is not None:
            message = {"thinking": reasoning, **message, "reasoning_content": reasoning}
        out.append(message)
    return out


def _environment() -> Any:
    """A fresh environment per template, like transformers (its tracker keeps state)."""
    import jinja2
    import jinja2.ext
    import jinja2.nodes
    import jinja2.utils
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class GenerationTag(jinja2.ext.Extension):
        """Accepts ``{% generation %}...{% endgeneration %}`` (assistant-mask tracking in
        transformers; rendering only needs the body)."""

        tags = {"generation"}  # noqa: RUF012 - jinja2's own class attribute

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.CallBlock(
                self.call_method("_body"), [], [], body).set_lineno(lineno)

        def _body(self, caller: Any) -> str:
            return caller()

    class TemplateDict:
        """``dict(...)`` without exposing the real type to the template."""

        def __call__(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
            return dict(*args, **kwargs)

        def fromkeys(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
            return dict.fromkeys(*args, **kwargs)

    class TemplateNamespace(jinja2.utils.Namespace):
        """A namespace that refuses underscore attributes (no reach into CPython internals)."""

        def __init__(*args: Any, **kwargs: Any) -> None:
            self, args = args[0], args[1:]
            attrs = dict(*args, **kwargs)
            for name in attrs:
                TemplateNamespace._check_name(name)
            jinja2.utils.Namespace.__init__(self, attrs)

        def __setitem__(self, name: str, value: Any) -> None:
            TemplateNamespace._check_name(name)
            jinja2.utils.Namespace.__setitem__(self, name, value)

        @staticmethod
        def _check_name(name: Any) -> None:
            if isinstance(name, str) and name.startswith("_"):
                raise jinja2.exceptions.SecurityError(
                    "Chat templates cannot store underscore-prefixed attributes on a namespace, "
                    f"but got {name!r}. Please rename the attribute.")

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None,
               sort_keys: bool = False) -> str:
        # Jinja's own filter escapes HTML characters; transformers' does not.
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(format: str) -> str:
        return datetime.now().strftime(format)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    env.globals["dict"] = TemplateDict()
    env.globals["namespace"] = TemplateNamespace
    return env
