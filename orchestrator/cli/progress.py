"""A rich progress display for long runs, as a plugin of the lifecycle hooks."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ttc.plugin_system import hookimpl


class ProgressDisplay:
    """Shows tasks done, the current stage and tokens generated (on stderr)."""

    def __init__(self, total_tasks: int, console: Console) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stage]}"),
            TextColumn("{task.fields[tokens]} tok"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task = self.progress.add_task("runs", total=total_tasks, stage="", tokens=0)
        self.tokens = 0

    def __enter__(self) -> ProgressDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    @hookimpl
    def ttc_stage_finished(self, run: Any, stage: Any) -> None:
        self.progress.update(self.task, stage=stage.name)

    @hookimpl
    def ttc_model_called(self, run: Any, call: Any) -> None:
        self.tokens += call.completion_tokens
        self.progress.update(self.task, tokens=self.tokens)

    @hookimpl
    def ttc_run_finished(self, run: Any, result: Any) -> None:
        self.progress.advance(self.task)
