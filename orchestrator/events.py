"""What lifecycle hooks receive: the run's identity and each finished stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ttc.candidate import Candidate
from ttc.state import StageUsage, Task


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Which run a lifecycle hook is about: the same object in every hook of one run."""

    run_id: str
    """Unique per run (``r-`` and 16 hex digits); the key for anything kept per run."""
    recipe_name: str
    """The recipe's ``name:``."""
    recipe_text: str
    """The recipe as written (YAML), e.g. to record it with the run."""
    recipe_hash: str
    """A hash of ``recipe_text``: runs of the same recipe share it."""
    task: Task
    """The question (prompt or messages, optional reference and tests)."""
    seed: int
    """The run seed: with the recipe, task and runtime it determines every candidate."""
    source: str = ""
    """Where the recipe came from (a file path), for people."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form data a caller attached to the run (e.g. an evaluation's item id)."""
    store: Any = None
    """Where this run asked to be recorded (``Pipeline(store=...)``), read by recording
    plugins: None lets the environment decide, False records nothing, True the default
    store, else a database URL or a store object."""


@dataclass(frozen=True, slots=True)
class StageReport:
    """One finished stage, as ``ttc_stage_finished`` sees it."""

    name: str
    """The stage's path, e.g. ``2-critic`` or ``3-repeat/1-self_refine``."""
    index: int
    """The stage's position among the run's distinct stages, from 0."""
    round: int
    """The round of the enclosing ``repeat`` block (from 1), or 0 outside one."""
    components: tuple[str, ...]
    """The names of the stage's components, in declaration order."""
    pool: tuple[Candidate, ...]
    """The pool after the stage (before it, when the stage failed)."""
    usage: StageUsage
    """Tokens, calls, failed calls, warnings and wall time of this execution of the stage
    (this round of a repeat block, not the rounds before it)."""
    wall_time: float
    """Seconds this stage took, this round."""
    status: str = "succeeded"
    """``succeeded``, ``budget_exhausted`` or ``failed``."""
    error: str | None = None
    """Why the stage did not succeed."""
    selection: Any = None
    """For the final selection (``name == "select"``): the selector's ``ttc.Selection``
    (winner, answer, scores per candidate id); else None."""
