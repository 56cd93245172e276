"""Plugins' ``PipelineOptions`` as parameters of a typer command.

typer reads a command's parameters from its function's signature, so the command that runs
recipes is wrapped in a function whose signature is its own plus every registered option;
the wrapper turns those options' values into ``Pipeline`` keyword arguments and passes them
to the command as ``pipeline_kwargs``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from ttc.pipeline_options import PipelineOptions

KWARGS = "pipeline_kwargs"
"""The parameter through which the wrapped command receives ``Pipeline`` keyword arguments."""


def with_pipeline_options(command: Callable[..., Any], groups: Sequence[PipelineOptions]
                          ) -> Callable[..., Any]:
    """``command`` (which takes ``pipeline_kwargs``) with each group's options added.

    A group whose option names or flags clash with the command's own is left out (the
    registry already refused clashes between plugins).
    """
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != KWARGS]
    own_flags = {f"--{p.name.replace('_', '-')}" for p in own}
    usable = [g for g in groups
              if not ({o.name for o in g.options} & {p.name for p in own}
                      or g.flags() & own_flags)]
    added = [inspect.Parameter(
        option.name, inspect.Parameter.KEYWORD_ONLY, default=option.default,
        annotation=Annotated[_annotation(option.type, option.default),
                             typer.Option(*option.flags, help=option.help,
                                          show_default=option.type is bool)])
        for group in usable for option in group.options]

    @functools.wraps(command)
    def wrapper(**values: Any) -> Any:
        given = {p.name: values.pop(p.name) for p in added}
        kwargs: dict[str, Any] = {}
        for group in usable:
            kwargs.update(group.pipeline_kwargs(given))
        return command(**values, **{KWARGS: kwargs})

    parameters = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + added
    wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    del wrapper.__wrapped__  # typer must read the new signature, not the command's
    return wrapper


def _annotation(kind: type, default: Any) -> Any:
    return kind if default is not None else kind | None
