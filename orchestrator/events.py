"""What lifecycle hooks receive: the run's identity and each finished stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ttc.candidate import Candidate
from ttc.state import StageUsage, Task


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    recipe_name: str
    recipe_text: str
    recipe_hash: str
    task: Task
    seed: int
    source: str = ""
    """Where the recipe came from (a file path), for people."""
    extra: dict[str, Any] = field(default_factory=dict)
    store: Any = None
    """Where this run asked to be recorded (``Pipeline(store=...)``), read by recording
    plugins: None lets the environment decide, False records nothing, True the default
    store, else a database URL or a store object."""


@dataclass(frozen=True, slots=True)
class StageReport:
    name: str
    """The stage's path, e.g. ``2-critic`` or ``3-repeat/1-self_refine``."""
    index: int
    round: int
    components: tuple[str, ...]
    pool: tuple[Candidate, ...]
    usage: StageUsage
    wall_time: float
    status: str = "succeeded"
    """``succeeded``, ``budget_exhausted`` or ``failed``."""
    error: str | None = None
    selection: Any = None
