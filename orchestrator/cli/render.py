"""Human-readable output of runs, components and plugins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ttc.errors import RecipeIssue
from ttc.registry import Registry
from ttc.result import RunResult
from ttc.state import RunWarning


def print_result(console: Console, result: RunResult) -> None:
    style = {"succeeded": "green", "budget_exhausted": "yellow"}.get(result.status, "red")
    warned = f"  [yellow]with {len(result.warnings)} warning(s)[/]" if result.warnings else ""
    console.print(f"[bold]run[/] {result.run_id}  [{style}]{result.status}[/]{warned}"
                  + (f"  ({escape(result.error)})" if result.error else ""))
    console.print(f"[bold]answer:[/] {result.answer}")
    table = Table("id", "answer", "scores", "tokens", "text", show_lines=False)
    winner = result.winner.id if result.winner else None
    for candidate in result.candidates.values():
        scores = " ".join(f"{k}={v:.3g}" for k, v in candidate.scores.items())
        mark = "★ " if candidate.id == winner else ""
        text = " ".join(candidate.text.split())
        table.add_row(mark + candidate.id, str(candidate.answer), scores,
                      str(candidate.tokens.count if candidate.tokens else ""),
                      text[:80] + ("…" if len(text) > 80 else ""))
    console.print(table)
    total = result.ledger.total
    served = f" ({total.served_calls} served from a recording)" if total.served_calls else ""
    failed = f", {total.failed_calls} failed attempt(s)" if total.failed_calls else ""
    console.print(
        f"[bold]ledger:[/] {total.calls} calls{served}{failed}, {total.prompt_tokens} prompt "
        f"tokens ({total.cached_tokens} cached, {total.prefilled_tokens} prefilled), "
        f"{total.completion_tokens} completion tokens, {total.wall_time:.2f}s in stages"
    )
    if total.cached_tokens:  # prefix-cache reuse per stage (cached / prompt tokens)
        console.print("[bold]cache hit:[/] " + ", ".join(
            f"{name} {usage.cache_hit_ratio:.0%}" for name, usage in result.ledger.stages.items()
            if usage.prompt_tokens))
    print_warnings(console, result.warnings)


def print_warnings(console: Console, warnings: Sequence[RunWarning]) -> None:
    """A run's degradations (replies that never parsed, fallbacks), one line each."""
    if not warnings:
        return
    console.print(f"[bold yellow]{len(warnings)} warning(s):[/]")
    for w in warnings:
        where = w.stage + (f" round {w.round}" if w.round else "")
        about = f" [{w.candidate}]" if w.candidate else ""
        console.print(f"  [yellow]{escape(w.kind)}[/] {escape(where)} {escape(w.component)}"
                      f"{escape(about)}: {escape(w.message)}", highlight=False)


def print_recipe_warnings(console: Console, issues: Sequence[RecipeIssue]) -> None:
    """What validation accepted but the author should change, with file:line and the fix."""
    for issue in issues:
        console.print(f"warning: {issue}", markup=False, highlight=False)


def print_versus(console: Console, rows: list[tuple[RunResult, bool | None]]) -> None:
    """Runs of several recipes on one question, side by side: answer, right or not, cost."""
    table = Table("recipe", "answer", "right", "completion tokens", "prompt tokens", "calls",
                  title=f"on: {' '.join(rows[0][0].task.question.split())[:90]}")
    for result, correct in rows:
        total = result.ledger.total
        mark = {True: "[green]✓[/]", False: "[red]✗[/]", None: "–"}[correct]
        table.add_row(result.recipe_name, str(result.answer), mark,
                      str(total.completion_tokens), str(total.prompt_tokens), str(total.calls))
    console.print(table)


def components_table(registry: Registry) -> list[dict[str, Any]]:
    rows = []
    for name, entry in sorted(registry.components.items()):
        cls = entry.obj
        params = []
        for field_name, field in cls.Config.model_fields.items():
            default = field.get_default(call_default_factory=True)
            params.append({
                "name": field_name,
                "type": _type_name(field.annotation),
                "default": default,
                "doc": (field.description or "").strip(),
            })
        rows.append({
            "name": name,
            "kind": cls.kind,
            "effect": str(cls.effect),
            "uses_model": cls.uses_model,
            "needs": sorted(str(c) for c in cls.needs),
            "plugin": entry.plugin,
            "doc": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "",
            "parameters": params,
        })
    return rows


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None)
    if text and not getattr(annotation, "__args__", None):
        return text
    return str(annotation).replace("typing.", "")
