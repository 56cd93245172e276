"""The ``ttc`` command line."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ttc.cli.command_options import with_pipeline_options
from ttc.cli.inputs import read_tasks
from ttc.cli.progress import ProgressDisplay
from ttc.cli.render import (
    components_table,
    print_recipe_warnings,
    print_result,
    print_versus,
)
from ttc.errors import RecipeError, TTCError, UsageError
from ttc.plugin_system import default_host
from ttc.result import RunResult
from ttc.secrets import MaskingFilter, SecretMask, environment_secrets

app = typer.Typer(
    name="ttc",
    help="Test-time compute recipes: sample, critique, rank, fuse, verify, vote.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console()
if not out.is_terminal:  # piped or redirected: don't squeeze tables into 80 columns
    out = Console(width=160)
err = Console(stderr=True, soft_wrap=True)  # an error is one line, however long


class _State:
    debug = False


@app.callback()
def _global(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
) -> None:
    _State.debug = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # log lines reach the terminal: mask them
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())


RecipeArg = Annotated[Path, typer.Argument(help="A recipe YAML file.", show_default=False)]


def run(
    recipe: RecipeArg,
    input: Annotated[str | None, typer.Option("--input", "-i", help="The question.")] = None,
    input_file: Annotated[
        Path | None,
        typer.Option("--input-file", "-f", help="JSONL: one task per line (a string, or "
                     '{"prompt"|"messages", "reference", "id"}).'),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Override the recipe's seed.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
    concurrency: Annotated[int, typer.Option(help="Tasks run at once for --input-file.")] = 4,
    reference: Annotated[str | None, typer.Option(
        "--reference", help="The right answer to --input: the output says whether each "
        "answer is right.")] = None,
    baseline: Annotated[Path | None, typer.Option(
        "--baseline", help="Also run this recipe (e.g. recipes/greedy.yaml) on the same "
        "questions and seed, and show its answers beside.")] = None,
    pipeline_kwargs: dict[str, Any] | None = None,
) -> None:
    """Run a recipe on one question or a file of them."""
    from ttc.pipeline import Pipeline
    from ttc.recipe.plan import check_seed

    if seed is not None:
        check_seed(seed, "--seed")
    tasks = read_tasks(input, input_file, reference)
    # Plugins' options (the run store's --db, --no-record) configure the pipeline through
    # keyword arguments the core passes on without knowing them.
    options = pipeline_kwargs or {}
    pipeline = Pipeline.from_yaml(recipe, **options)
    against = None if baseline is None else Pipeline.from_yaml(baseline, **options)
    for loaded in (pipeline, against):
        if loaded is not None:
            print_recipe_warnings(err, loaded.plan.warnings)
    host = pipeline.host
    display = None
    if not as_json and err.is_terminal:
        display = ProgressDisplay(len(tasks), err)
        host.register(display, name="ttc-progress")
    try:
        if display is not None:
            with display:
                results = pipeline.run_batch(tasks, concurrency=concurrency, seed=seed)
        else:
            results = pipeline.run_batch(tasks, concurrency=concurrency, seed=seed)
    finally:
        if display is not None:
            host.unregister("ttc-progress")
    mask = SecretMask.for_data(pipeline.plan.data)  # a server may echo the key in its error
    results = [r if r.error is None else dataclasses.replace(r, error=mask.text(r.error))
               for r in results]
    baseline_results: list[RunResult | None] = [None] * len(results)
    if against is not None:
        base_mask = SecretMask.for_data(against.plan.data)
        baseline_results = [
            r if r.error is None else dataclasses.replace(r, error=base_mask.text(r.error))
            for r in against.run_batch(tasks, concurrency=concurrency, seed=seed)]
    for result, base in zip(results, baseline_results, strict=True):
        if as_json:
            data = _result_json(result, pipeline)
            if base is not None:
                data["baseline"] = _result_json(base, against)
            out.file.write(json.dumps(data, ensure_ascii=False) + "\n")
        else:
            print_result(out, result)
            if base is not None:
                print_versus(out, [(result, _correct(result, pipeline)),
                                   (base, _correct(base, against))])
    if any(r.status == "failed" for r in results):
        failed = [r for r in results if r.status == "failed"]
        err.print(f"[red]{len(failed)} of {len(results)} run(s) failed:[/] "
                  f"{escape(failed[0].error or '')}")
        raise typer.Exit(1)


def _correct(result: Any, pipeline: Any) -> bool | None:
    from ttc.grading import grade

    task = result.task
    if task.reference is None and not task.tests:
        return None
    return grade(result.answer, task, pipeline.plan.task_format, pipeline.host.registry).correct


def _result_json(result: Any, pipeline: Any) -> dict[str, Any]:
    """One run as JSON: the task it answered (id, input, reference), the answer, and whether
    it is right when the task has a reference or tests."""

    data = result.to_dict()
    task = result.task
    out: dict[str, Any] = {
        "run_id": data["run_id"],
        "status": data["status"],
        "error": data["error"],
        "task": {"id": task.id, "input": task.question, "reference": task.reference,
                 "metadata": dict(task.metadata)},
        "answer": data["answer"],
    }
    if task.reference is not None or task.tests:
        out["correct"] = _correct(result, pipeline)
    out.update({
        "winner": data["winner"],
        "warnings": data["warnings"],
        "candidates": data["candidates"],
        "ledger": data["ledger"],
        "seed": data["seed"],
        "recipe": data["recipe"],
    })
    return out


@app.command()
def validate(recipes: Annotated[list[Path], typer.Argument(help="Recipe files.")]) -> None:
    """Check recipes without running them; prints every problem at once."""
    from ttc.pipeline import Pipeline

    problems = 0
    for path in recipes:
        try:
            pipeline = Pipeline.from_yaml(path)
        except RecipeError as exc:
            problems += len(exc.issues)
            for issue in exc.issues:
                err.print(str(issue), markup=False, highlight=False)
        else:
            print_recipe_warnings(err, pipeline.plan.warnings)
            out.print(f"{path}: ok" + (f" ({len(pipeline.plan.warnings)} warning(s))"
                                       if pipeline.plan.warnings else ""))
    if problems:
        err.print(f"{problems} problem(s) found")
        raise typer.Exit(2)


@app.command()
def plugins(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List installed plugins: origin, version, status, what each registers, the hooks it
    implements and the commands it adds; problems below the table."""
    from ttc.cli.plugin_table import plugin_rows

    rows = plugin_rows(default_host())
    if as_json:
        out.file.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table("plugin", "origin", "version", "status", "provides", "hooks and commands")
    for row in rows:
        version = " ".join(x for x in (row["distribution"], row["version"]) if x)
        uses = [h.removeprefix("ttc_") for h in row["hooks"]
                if not h.startswith("ttc_register_")]
        uses += [f"command:{c}" for c in row["commands"]]
        style = {"ok": "green", "unavailable": "yellow"}.get(row["status"], "red")
        table.add_row(escape(row["name"]), row["origin"], escape(version),
                      f"[{style}]{row['status']}[/]", escape(", ".join(row["provides"])),
                      escape(", ".join(uses)))
    out.print(table)
    for row in rows:
        for problem in row["problems"]:
            err.print(f"{row['name']}: {problem}", markup=False, highlight=False)


@app.command()
def components(
    name: Annotated[str | None, typer.Argument(help="Show one component.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List components with their parameters, types, defaults and docs."""
    rows = components_table(default_host().registry)
    if name is not None:
        rows = [r for r in rows if r["name"] == name]
        if not rows:
            raise UsageError(f"no component named {name!r}; run `ttc components` to list them")
    if as_json:
        out.file.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    for row in rows:
        out.print(f"[bold]{row['name']}[/] ({row['kind']}, {row['effect']}) — {row['doc']}")
        for p in row["parameters"]:
            doc = f"  {p['doc']}" if p["doc"] else ""
            out.print(f"    {p['name']}: {p['type']} = {p['default']!r}{doc}",
                      markup=False, highlight=False)


@app.command()
def reference() -> None:
    """Print the recipe reference (Markdown) generated from the installed plugins."""
    from ttc.recipe.reference import recipe_reference

    out.file.write(recipe_reference(default_host().registry))


def _register_commands() -> None:
    """``ttc run`` with the options plugins add to it, first in the help; then the plugins'
    own commands (one plugin that raises does not stop the others)."""
    host = default_host()
    groups = [entry.obj for entry in host.registry.pipeline_options.values()]
    app.command("run")(with_pipeline_options(run, groups))
    app.registered_commands.insert(0, app.registered_commands.pop())
    host.register_commands(app)


def _masked(exc: BaseException) -> str:
    """The error's text with credentials masked (URL userinfo, keys from the environment)."""
    return SecretMask(environment_secrets()).text(str(exc))


def main() -> None:
    """Entry point: one clear line per error, exit code 2 for usage errors."""
    debug = "--debug" in sys.argv
    try:
        _register_commands()
        code = app(standalone_mode=False)  # click returns the code of a typer.Exit here
        if isinstance(code, int) and code:
            sys.exit(code)
    except TTCError as exc:
        if debug:
            traceback.print_exc()
        err.print(f"[red]error:[/] {escape(_masked(exc))}", highlight=False)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except Exception as exc:
        show = getattr(exc, "show", None)  # click's (or typer's vendored click's) usage errors
        if callable(show) and hasattr(exc, "exit_code"):
            show()
            sys.exit(exc.exit_code)
        if debug:
            traceback.print_exc()
        err.print(f"[red]error:[/] {type(exc).__name__}: {escape(_masked(exc))}  (run with --debug "
                  "for the traceback)", highlight=False)
        sys.exit(1)
    sys.exit(0)
