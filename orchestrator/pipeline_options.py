"""Options that plugins add to the commands that run recipes (``ttc run``).

A plugin that configures runs (the run store, say) registers ``PipelineOptions`` through
``ttc_register_pipeline_options``: its command-line options, and a function that turns
their values into ``Pipeline`` keyword arguments (``store=...``). The core puts the options
on the command and hands the arguments to ``Pipeline`` without knowing what they mean, so
the core imports no plugin and nothing travels through environment variables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

OPTION_TYPES = (str, int, float, bool)


@dataclass(frozen=True, slots=True)
class PipelineOption:
    """One command-line option."""

    name: str
    """The keyword its value is passed to ``PipelineOptions.configure`` under."""
    flags: tuple[str, ...]
    """As written on the command line: ``("--db",)``; a switch: ``("--record/--no-record",)``."""
    help: str
    """One line for ``--help``."""
    default: str | int | float | bool | None = None
    type: type = str
    """``str``, ``int``, ``float`` or ``bool`` (a switch)."""


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    """A plugin's options of the commands that run recipes, and what they configure."""

    options: tuple[PipelineOption, ...]
    configure: Callable[..., Mapping[str, Any]]
    """Called with every option's value by name; returns ``Pipeline`` keyword arguments
    (e.g. ``{"store": "sqlite:///runs.db"}``)."""

    def pipeline_kwargs(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The ``Pipeline`` keyword arguments for parsed option values (defaults for the
        ones not given)."""
        given = {o.name: values.get(o.name, o.default) for o in self.options}
        return dict(self.configure(**given))

    def problem(self) -> str | None:
        """Why this registration cannot be used, or None."""
        if not self.options or not callable(self.configure):
            return "PipelineOptions needs options and a callable configure"
        for option in self.options:
            if not isinstance(option, PipelineOption):
                return f"{option!r} is not a ttc.PipelineOption"
            if not option.name.isidentifier():
                return f"option name {option.name!r} is not a Python identifier"
            if option.type not in OPTION_TYPES:
                return f"option {option.name!r}: type must be str, int, float or bool"
            if not option.flags or not all(f.startswith("-") for f in option.flags):
                return f"option {option.name!r}: flags must start with '-'"
        return None

    def flags(self) -> set[str]:
        """Every flag spelling, switch pairs split (``--record``, ``--no-record``)."""
        return {part for option in self.options for flag in option.flags
                for part in flag.split("/")}
