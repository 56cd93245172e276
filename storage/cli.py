"""``ttc runs list|show|export|delete``, ``ttc replay`` and ``ttc resume``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from ttc.errors import UsageError

out = Console()
err = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Run store URL (default: TTC_DATABASE_URL, else the SQLite "
                 "file in the user data folder).", show_default=False),
]
RunArg = Annotated[str, typer.Argument(help="A run id (or a unique prefix).",
                                       show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _store(db: str | None) -> Any:
    from ttc.storage.store import RunStore

    return RunStore.open(db)


def _date(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {value!r} is not a date; write e.g. 2025-01-31 or "
                         "2025-01-31T12:00") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:  # SQLite keeps no zone; the store writes UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def register(cli: typer.Typer) -> None:
    """Add the storage commands to the ``ttc`` app (called by ``ttc_register_commands``)."""
    runs = typer.Typer(help="Recorded runs: list, show, export, delete.",
                       no_args_is_help=True)

    @runs.command("list")
    def list_runs(
        db: DbOption = None,
        recipe: Annotated[str | None, typer.Option(help="Only this recipe name.")] = None,
        status: Annotated[str | None, typer.Option(
            help="running, succeeded, budget_exhausted or failed.")] = None,
        since: Annotated[str | None, typer.Option(help="Started on or after (ISO date).")
                         ] = None,
        until: Annotated[str | None, typer.Option(help="Started before (ISO date).")] = None,
        limit: Annotated[int, typer.Option(help="At most this many (newest first).")] = 50,
        as_json: JsonOption = False,
    ) -> None:
        """List recorded runs, newest first."""
        rows = _store(db).list_runs(recipe=recipe, status=status,
                                    since=_date(since, "--since"),
                                    until=_date(until, "--until"), limit=limit)
        if as_json:
            out.file.write(json.dumps([{
                "id": r.id, "recipe": r.recipe_name, "status": r.status,
                "started_at": r.started_at.isoformat(), "answer": r.answer,
                "calls": r.calls, "completion_tokens": r.completion_tokens,
                "replay_of": r.replay_of} for r in rows], indent=2) + "\n")
            return
        table = Table("run", "recipe", "status", "started", "calls", "tokens", "answer")
        for r in rows:
            table.add_row(r.id, r.recipe_name, r.status, _when(r.started_at), str(r.calls),
                          str(r.completion_tokens), (r.answer or "")[:40])
        out.print(table)

    @runs.command("show")
    def show(run: RunArg, db: DbOption = None) -> None:
        """The run as a tree: stages, their candidates with scores and parents, the ledger."""
        out.print(run_tree(_store(db).get_run(run)))

    @runs.command("export")
    def export(
        run: RunArg,
        db: DbOption = None,
        output: Annotated[Path | None, typer.Option("--output", "-o",
                                                    help="Write to this file.")] = None,
    ) -> None:
        """Everything recorded about a run, as JSON."""
        text = json.dumps(_store(db).export_run(run), indent=2, ensure_ascii=False)
        if output is None:
            out.file.write(text + "\n")
        else:
            output.write_text(text + "\n", encoding="utf-8")

    @runs.command("delete")
    def delete(run: RunArg, db: DbOption = None) -> None:
        """Delete a recorded run and everything recorded with it."""
        out.print(f"deleted {_store(db).delete_run(run)}")

    cli.add_typer(runs, name="runs")

    @cli.command("replay")
    def replay_command(
        run: RunArg,
        db: DbOption = None,
        recipe: Annotated[Path | None, typer.Option(
            "--recipe", help="Run this recipe instead, re-using the recorded calls it "
            "shares.")] = None,
        strict: Annotated[bool, typer.Option(
            "--strict", help="Forbid new model calls (implied without --recipe).")] = False,
        as_json: JsonOption = False,
    ) -> None:
        """Re-run a recorded run from its recorded model calls."""
        from ttc.storage.replay import replay

        text = None if recipe is None else _read(recipe)
        report = replay(_store(db), run, recipe_text=text,
                        source=str(recipe or "<replay>"),
                        strict=True if strict else None)
        _report(report, as_json, "replay of " + report.source.id)

    @cli.command("resume")
    def resume_command(
        run: RunArg,
        db: DbOption = None,
        recipe: Annotated[Path | None, typer.Option(
            "--recipe", help="The run's recipe file (when its options held secrets, which "
            "the store masks).")] = None,
        force: Annotated[bool, typer.Option("--force", help="Resume even if the run looks "
                                            "alive or finished.")] = False,
        as_json: JsonOption = False,
    ) -> None:
        """Finish a run that was killed or crashed, without repeating its recorded calls."""
        from ttc.storage.replay import resume

        text = None if recipe is None else _read(recipe)
        report = resume(_store(db), run, recipe_text=text, force=force)
        _report(report, as_json, "resumed")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the recipe {path}: {exc.strerror}") from None


def _report(report: Any, as_json: bool, label: str) -> None:
    if as_json:
        out.file.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
    else:
        from ttc.cli.render import print_result

        print_result(out, report.result)
        same = "identical to the recording" if report.identical else "differs from the recording"
        out.print(f"[bold]{label}:[/] {report.served} call(s) from the recording, "
                  f"{report.made} new; {same}")
    if report.result.status == "failed":
        raise typer.Exit(1)


def run_tree(run: Any) -> Tree:
    """A rich tree of one recorded run (``RunStore.get_run``)."""
    style = {"succeeded": "green", "budget_exhausted": "yellow", "running": "cyan"}.get(
        run.status, "red")
    tree = Tree(f"[bold]run {run.id}[/]  {run.recipe_name}  [{style}]{run.status}[/]  "
                f"seed {run.seed}  started {_when(run.started_at)}"
                + (f"  (replay of {run.replay_of})" if run.replay_of else ""))
    tree.add(f"[bold]answer:[/] {run.answer}" + (f"   [red]{run.error}[/]" if run.error else ""))
    by_stage: dict[str, list[Any]] = {}
    for candidate in run.candidates:
        by_stage.setdefault(candidate.stage, []).append(candidate)
    stages = tree.add("[bold]stages[/]")
    for stage in run.stages:
        usage = stage.usage or {}
        node = stages.add(
            f"{stage.name}" + (f" round {stage.round}" if stage.round else "")
            + f"  [{'green' if stage.status == 'succeeded' else 'red'}]{stage.status}[/]  "
            f"{', '.join(stage.components)}  {usage.get('calls', 0)} calls, "
            f"{usage.get('completion_tokens', 0)} tokens, {stage.wall_time:.2f}s")
        for candidate in by_stage.get(stage.name, []):
            mark = "★ " if candidate.id == run.winner_id else ""
            scores = " ".join(f"{k}={v:.3g}" for k, v in (candidate.scores or {}).items())
            parents = f" ← {', '.join(candidate.parents)}" if candidate.parents else ""
            text = " ".join(candidate.text.split())
            node.add(f"{mark}{candidate.id}  answer={candidate.answer!r}  {scores}{parents}  "
                     f"[dim]{text[:60]}[/]")
    ledger = tree.add(
        f"[bold]ledger:[/] {run.calls} calls ({run.failed_calls} failed), "
        f"{run.prompt_tokens} prompt tokens ({run.cached_tokens} cached), "
        f"{run.completion_tokens} completion tokens"
        + (f", {run.wall_time:.2f}s" if run.wall_time else ""))
    served = sum(1 for c in run.model_calls if c.replayed)
    ledger.add(f"{len(run.model_calls)} model call(s) recorded, {served} served from a "
               "recording")
    return tree
