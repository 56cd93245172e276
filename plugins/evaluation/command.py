"""``ttc eval``, ``ttc evals list|show``, ``ttc compare``, ``ttc scaling`` and
``ttc datasets``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ttc.errors import UsageError

out = Console()
if not out.is_terminal:
    out = Console(width=160)
err = Console(stderr=True)

DbOption = Annotated[str | None, typer.Option(
    "--db", help="Run store URL (default: TTC_DATABASE_URL, else the SQLite file in the user "
    "data folder).", show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON lines.")]


def _store(db: str | None) -> Any:
    from ttc.storage.store import RunStore

    return RunStore.open(db)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def register(cli: typer.Typer) -> None:
    cli.command("eval")(eval_command)
    evals = typer.Typer(help="Recorded evals: list, show.", no_args_is_help=True)
    evals.command("list")(list_command)
    evals.command("show")(show_command)
    cli.add_typer(evals, name="evals")
    cli.command("compare")(compare_command)
    cli.command("scaling")(scaling_command)
    cli.command("datasets")(datasets_command)


def eval_command(
    recipes: Annotated[list[Path], typer.Argument(help="Recipe files.", show_default=False)],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="A data set name (see `ttc "
                                         "datasets`) or a JSONL file.", show_default=False)],
    limit: Annotated[int | None, typer.Option(help="Only the first N items.")] = None,
    concurrency: Annotated[int, typer.Option(help="Items run at once.")] = 4,
    seed: Annotated[int | None, typer.Option(help="Seed (default: the recipe's).")] = None,
    seeds: Annotated[int, typer.Option(help="Evaluate with this many seeds: S, S+1, …")] = 1,
    fresh: Annotated[bool, typer.Option(help="Start a new eval even if this one was run "
                                        "before (default: resume or reuse it).")] = False,
    plot: Annotated[Path | None, typer.Option(help="Also write accuracy vs tokens for the "
                                              "recipes (.png or .html).")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run recipes over a data set, grade every answer, print accuracy with a 95 % interval
    and the cost per item. Every item is a recorded run: a killed eval resumes when run
    again, with no model call repeated."""
    from ttc.plugins.evaluation.runner import evaluate

    display = _EvalProgress(err) if not as_json and err.is_terminal else None
    try:
        if display is not None:
            display.start()
        results = evaluate(recipes, dataset, store=_store(db), limit=limit,
                           concurrency=concurrency, seed=seed, seeds=seeds, fresh=fresh,
                           on_item=display.item if display else None,
                           on_eval=display.eval if display else None)
    finally:
        if display is not None:
            display.stop()
    if as_json:
        for result in results:
            for item in result.items:
                out.file.write(json.dumps({"recipe": result.summary.recipe,
                                           "seed": result.summary.seed, **item.to_dict()},
                                          ensure_ascii=False) + "\n")
            out.file.write(json.dumps(result.summary.to_dict(), ensure_ascii=False) + "\n")
    else:
        out.print(summary_table([r.summary for r in results]))
        _print_scores([r.summary for r in results])
    if plot is not None:
        from ttc.plugins.evaluation.plots import write_plot

        write_plot(plot, [], [r.summary for r in results])
        err.print(f"plot written to {plot}")


def summary_table(summaries: Sequence[Any]) -> Table:
    table = Table("eval", "recipe", "seed", "data set", "accuracy", "95 % interval", "items",
                  "prompt tok/item", "completion tok/item", "calls/item", "cache hit",
                  "wall", title="evaluation")
    for s in summaries:
        note = f" ({s.failed} failed)" if s.failed else ""
        table.add_row(s.eval_id, s.recipe, str(s.seed), s.dataset, f"{s.accuracy:.1%}",
                      f"{s.interval.low:.1%} – {s.interval.high:.1%}",
                      f"{s.correct}/{s.graded}{note}", f"{s.prompt_tokens_per_item:.0f}",
                      f"{s.completion_tokens_per_item:.0f}", f"{s.calls_per_item:.1f}",
                      f"{s.cache_hit_ratio:.0%}", f"{s.wall_time:.0f}s")
    by_recipe: dict[str, list[Any]] = {}
    for s in summaries:
        by_recipe.setdefault(s.recipe, []).append(s)
    for recipe, group in by_recipe.items():
        if len(group) > 1:
            mean = sum(s.accuracy for s in group) / len(group)
            spread = (sum((s.accuracy - mean) ** 2 for s in group) / (len(group) - 1)) ** 0.5
            table.add_row("", f"[bold]{recipe}[/]", f"{len(group)} seeds", "",
                          f"[bold]{mean:.1%}[/] ± {spread:.1%}", "", "", "", "", "", "", "")
    return table


def _print_scores(summaries: Sequence[Any]) -> None:
    rows = [(s, q) for s in summaries for q in s.scores]
    if not rows:
        return
    table = Table("recipe", "seed", "score", "candidates", "AUROC (pooled)",
                  "AUROC (within item)", "items with both", "oracle",
                  title="how well each candidate score tells right from wrong")
    for s, q in rows:
        table.add_row(s.recipe, str(s.seed), q.name, str(q.candidates),
                      "–" if q.auroc is None else f"{q.auroc:.2f}",
                      "–" if q.auroc_within is None else f"{q.auroc_within:.2f}",
                      str(q.items_with_both), _pct(s.oracle))
    out.print(table)


class _EvalProgress:
    """A bar per eval with the running accuracy."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[accuracy]}"),
                                 TimeElapsedColumn(), console=console, transient=False)
        self.tasks: dict[str, Any] = {}
        self.right: dict[str, int] = {}
        self.graded: dict[str, int] = {}

    def start(self) -> None:
        self.progress.start()

    def stop(self) -> None:
        self.progress.stop()

    def eval(self, eval_id: str, items: int, done: int) -> None:
        label = f"{eval_id}" + (f" (resumed, {done} done)" if done else "")
        self.tasks[eval_id] = self.progress.add_task(label, total=items, completed=done,
                                                     accuracy="")
        self.right[eval_id] = self.graded[eval_id] = 0

    def item(self, item: Any) -> None:
        task = self.tasks.get(item.eval_id)
        if task is None:
            return
        if item.correct is not None:
            self.graded[item.eval_id] += 1
            self.right[item.eval_id] += bool(item.correct)
        graded = self.graded[item.eval_id]
        accuracy = f"accuracy {self.right[item.eval_id] / graded:.1%}" if graded else ""
        self.progress.update(task, advance=1, accuracy=accuracy)


def list_command(
    db: DbOption = None,
    recipe: Annotated[str | None, typer.Option(help="Only this recipe name.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Only this data set.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many (newest first).")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List recorded evals, newest first."""
    from ttc.plugins.evaluation.results import EvalSummary
    from ttc.storage.evals import EvalStore

    rows = EvalStore(_store(db)).list_evals(recipe=recipe, dataset=dataset, limit=limit)
    if as_json:
        for row in rows:
            out.file.write(json.dumps({"id": row.id, "recipe": row.recipe_name,
                                       "dataset": row.dataset, "seed": row.seed,
                                       "items": row.items, "status": row.status,
                                       "started_at": row.started_at.isoformat(),
                                       "summary": row.summary}) + "\n")
        return
    table = Table("eval", "recipe", "data set", "seed", "status", "accuracy", "items",
                  "tok/item", "started")
    for row in rows:
        summary = EvalSummary.from_dict(row.summary) if row.summary else None
        table.add_row(row.id, row.recipe_name, row.dataset, str(row.seed), row.status,
                      _pct(summary.accuracy if summary else None), str(row.items),
                      f"{summary.tokens_per_item:.0f}" if summary else "–",
                      row.started_at.strftime("%Y-%m-%d %H:%M"))
    out.print(table)


def show_command(
    eval_id: Annotated[str, typer.Argument(help="An eval id (or a unique prefix).",
                                           show_default=False)],
    db: DbOption = None,
    wrong: Annotated[bool, typer.Option("--wrong", help="List only the items it got "
                                        "wrong.")] = False,
    as_json: JsonOption = False,
) -> None:
    """An eval's summary and its items."""
    from ttc.plugins.evaluation.results import EvalSummary
    from ttc.storage.evals import EvalStore

    row = EvalStore(_store(db)).get(eval_id)
    items = [r for r in row.item_rows if not wrong or r.correct is False]
    if as_json:
        for r in items:
            out.file.write(json.dumps({"type": "item", "id": r.item_id, "run_id": r.run_id,
                                       "reference": r.reference, "answer": r.answer,
                                       "correct": r.correct, "status": r.status,
                                       "completion_tokens": r.completion_tokens}) + "\n")
        if row.summary:
            out.file.write(json.dumps(row.summary) + "\n")
        return
    out.print(f"[bold]{row.id}[/]  {row.name}  seed {row.seed}  [{row.status}]")
    if row.summary:
        summary = EvalSummary.from_dict(row.summary)
        out.print(summary_table([summary]))
        _print_scores([summary])
    table = Table("item", "run", "reference", "answer", "right", "tokens", "status")
    for r in items:
        mark = {True: "[green]✓[/]", False: "[red]✗[/]", None: "–"}[r.correct]
        table.add_row(r.item_id, r.run_id, str(r.reference), str(r.answer), mark,
                      str((r.prompt_tokens or 0) + (r.completion_tokens or 0)), r.status)
    out.print(table)


def compare_command(
    evals: Annotated[list[str], typer.Argument(help="The baseline eval, then the evals to "
                                               "compare with it.", show_default=False)],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Paired comparison with the first eval on shared items: accuracy difference with a
    paired bootstrap 95 % interval, exact McNemar p, wins and losses."""
    from ttc.plugins.evaluation.comparison import compare

    comparisons = compare(_store(db), evals)
    if as_json:
        for c in comparisons:
            out.file.write(json.dumps(c.to_dict()) + "\n")
        return
    table = Table("baseline", "compared", "items", "baseline acc.", "acc.", "difference",
                  "95 % interval (paired bootstrap)", "wins", "losses", "McNemar p",
                  "verdict", title="paired comparison")
    for c in comparisons:
        d = c.paired
        table.add_row(f"{c.baseline} {c.baseline_name}", f"{c.other} {c.other_name}",
                      str(c.shared), f"{c.baseline_accuracy:.1%}", f"{c.other_accuracy:.1%}",
                      f"{d.difference:+.1%}",
                      f"{d.interval.low:+.1%} … {d.interval.high:+.1%}", str(d.wins),
                      str(d.losses), f"{d.p_value:.3g}", c.verdict)
    out.print(table)


def scaling_command(
    evals: Annotated[list[str], typer.Argument(help="Evals whose stored candidates are "
                                               "re-selected.", show_default=False)],
    selector: Annotated[list[str], typer.Option(
        "--selector", "-s", help="NAME or NAME:param=value,… (repeat for several).")],
    n: Annotated[str | None, typer.Option(help="Comma-separated N values (default: powers "
                                          "of two up to N_max).")] = None,
    subsets: Annotated[int, typer.Option(help="Random subsets per item and N.")] = 64,
    baseline: Annotated[list[str] | None, typer.Option(
        help="Evals drawn as single points (e.g. greedy).")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write the plot (.png or .html).")
                    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Accuracy at every N ≤ N_max for each selector, from the candidates an eval stored
    (no model call), with the oracle curve; optionally plotted."""
    from ttc.plugins.evaluation.results import EvalSummary
    from ttc.plugins.evaluation.scaling import scaling_curve
    from ttc.storage.evals import EvalStore

    store = _store(db)
    try:
        ns = None if n is None else [int(v) for v in n.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"--n {n!r}: give comma-separated whole numbers, e.g. 1,2,4,8"
                         ) from None
    curves = [scaling_curve(store, e, selector, ns=ns, subsets=subsets) for e in evals]
    points = [EvalSummary.from_dict(EvalStore(store).get(b).summary) for b in baseline or ()]
    if as_json:
        for curve in curves:
            out.file.write(json.dumps(curve.to_dict()) + "\n")
    else:
        for curve in curves:
            table = Table("selector", *[f"N={p.n}" for p in curve.curves[-1].points],
                          title=f"{curve.eval_id} {curve.recipe} on {curve.dataset}: accuracy "
                          f"(± spread over subsets), {curve.items} items, N_max {curve.n_max}")
            for c in curve.curves:
                if c.error:
                    table.add_row(c.selector, f"[red]{c.error}[/]")
                    continue
                table.add_row(c.selector, *[f"{p.accuracy:.1%} ±{p.spread:.1%}"
                                            for p in c.points])
            table.add_row("tokens/item", *[f"{p.tokens_per_item:.0f}"
                                           for p in curve.curves[-1].points])
            out.print(table)
    if plot is not None:
        from ttc.plugins.evaluation.plots import write_plot

        write_plot(plot, curves, points)
        err.print(f"plot written to {plot}")


def datasets_command(as_json: JsonOption = False) -> None:
    """The named data sets plugins provide, and what each measures."""
    from ttc.plugin_system import default_host

    registry = default_host().registry
    rows = [{"name": name, "items": e.obj.size, "format": e.obj.answer_format,
             "plugin": e.plugin, "description": e.obj.description}
            for name, e in sorted(registry.datasets.items())]
    if as_json:
        out.file.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table("data set", "items", "graded as", "what it measures")
    for row in rows:
        table.add_row(str(row["name"]), str(row["items"] or "?"),
                      str(row["format"] or "per item"), str(row["description"]))
    out.print(table)
