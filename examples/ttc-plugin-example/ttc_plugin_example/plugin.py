"""The module the ``ttc`` entry point names: hook implementations only, each registering
one thing from its own module."""

from __future__ import annotations

from typing import Any

from ttc import hookimpl

from .restate import Restate
from .roman import RomanNumber
from .run_summary import write_summary
from .shortest_majority import ShortestMajority

REQUIRES_HOOKSPEC = "1.0"
"""The hook spec this plugin was written for: any ttc 1.x has every hook it uses."""


@hookimpl
def ttc_register_components(register: Any) -> None:
    register(Restate)
    register(ShortestMajority)


@hookimpl
def ttc_register_tasks(register: Any) -> None:
    register(RomanNumber)


@hookimpl
def ttc_run_finished(run: Any, result: Any) -> None:
    write_summary(run, result)
