"""``ttc runs list|show|export|delete``, ``ttc replay`` and ``ttc resume``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
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

    @runs.command("path")
    def path(db: DbOption = None, as_json: JsonOption = False) -> None:
        """Where the run store is: its URL (password hidden), the file for SQLite, and which
        setting chose it (--db, TTC_DATABASE_URL or the default)."""
        from ttc.storage.location import locate

        found = locate(db)
        if as_json:
            out.file.write(json.dumps(found.to_dict()) + "\n")
            return
        lines = [f"url: {found.url}"]
        if found.file is not None:
            lines.append(f"file: {found.file}"
                         + ("" if found.exists else "  (not created yet: the first recorded "
                            "run makes it)"))
        lines.append(f"chosen by: {found.chosen_by}")
        out.file.write("\n".join(lines) + "\n")

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
    """A rich tree of one recorded run (``RunStore.get_run``): each stage execution (each
    round of a repeat block) with its own pool, calls, tokens and time; the warnings; and
    where the calls came from."""
    from ttc.storage.run_view import call_counts, run_warnings, stage_executions

    warnings = run_warnings(run)
    style = {"succeeded": "green", "budget_exhausted": "yellow", "running": "cyan"}.get(
        run.status, "red")
    tree = Tree(f"[bold]run {run.id}[/]  {escape(run.recipe_name)}  [{style}]{run.status}[/]"
                + (f" [yellow]with {len(warnings)} warning(s)[/]" if warnings else "")
                + f"  seed {run.seed}  started {_when(run.started_at)}"
                + (f"  (replay of {run.replay_of})" if run.replay_of else "")
                + (f"  (resumed {run.resumes}×)" if run.resumes else ""))
    tree.add(f"[bold]answer:[/] {escape(str(run.answer))}"
             + (f"   [red]{escape(run.error)}[/]" if run.error else ""))
    stages = tree.add("[bold]stages[/]")
    for execution in stage_executions(run):
        stage, usage = execution.row, execution.usage
        warned = f", [yellow]{usage['warnings']} warning(s)[/]" if usage["warnings"] else ""
        node = stages.add(
            f"{escape(stage.name)}" + (f" round {stage.round}" if stage.round else "")
            + f"  [{'green' if stage.status == 'succeeded' else 'red'}]{stage.status}[/]  "
            f"{escape(', '.join(stage.components))}  {_calls(usage)}, "
            f"{usage['prompt_tokens']} prompt tokens ({usage['prefilled_tokens']} prefilled), "
            f"{usage['completion_tokens']} completion tokens, {stage.wall_time:.2f}s{warned}")
        for candidate in execution.pool:
            mark = "★ " if candidate.id == run.winner_id else ""
            scores = " ".join(f"{k}={v:.3g}" for k, v in (candidate.scores or {}).items())
            parents = f" ← {', '.join(candidate.parents)}" if candidate.parents else ""
            text = " ".join(candidate.text.split())
            node.add(f"{mark}{candidate.id}  answer={escape(repr(candidate.answer))}  "
                     f"{scores}{parents}  [dim]{escape(text[:60])}[/]")
    if warnings:
        listed = tree.add(f"[bold yellow]warnings ({len(warnings)})[/]")
        for w in warnings:
            where = w.get("stage", "") + (f" round {w['round']}" if w.get("round") else "")
            about = f" [{w['candidate']}]" if w.get("candidate") else ""
            listed.add(escape(f"{w.get('kind')} {where} {w.get('component', '')}{about}: "
                              f"{w.get('message', '')}"))
    counts = call_counts(run)
    ledger = tree.add(
        f"[bold]ledger:[/] {counts.calls} calls ({counts.served} served from the recording, "
        f"{counts.made} made; {counts.failed_attempts} failed attempt(s)), "
        f"{run.prompt_tokens} prompt tokens ({run.cached_tokens} cached"
        + _prefilled(run) + f"), {run.completion_tokens} completion tokens"
        + (f", {run.wall_time:.2f}s" if run.wall_time else ""))
    ledger.add(f"{counts.stored_attempts} call attempt(s) stored for this run")
    return tree


def _calls(usage: dict[str, Any]) -> str:
    served = f", {usage['served_calls']} served" if usage["served_calls"] else ""
    failed = f", {usage['failed_calls']} failed" if usage["failed_calls"] else ""
    return f"{usage['calls']} calls{served}{failed}"


def _prefilled(run: Any) -> str:
    total = (run.ledger or {}).get("total") or {}
    return f", {total['prefilled_tokens']} prefilled" if "prefilled_tokens" in total else ""
