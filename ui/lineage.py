"""The candidate lineage graph of a recorded run: stages left to right, a candidate per node,
an edge from each parent, the winner and its ancestors highlighted.

The layout is computed from the recorded rows alone (``CandidateRow.parents`` and origin,
``StageRow`` order), so the graph shows exactly what the store holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import altair as alt

WINNER, ANCESTOR, OTHER = "winner", "winner's lineage", "other"
COLORS = {WINNER: "#d62728", ANCESTOR: "#ff9f1c", OTHER: "#8c9bab"}


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    column: int
    row: int
    stage: str
    component: str
    answer: str | None
    role: str
    """``winner``, ``winner's lineage`` or ``other``."""
    critiques: int
    scores: str


@dataclass(frozen=True, slots=True)
class Edge:
    parent: str
    child: str
    on_winner_path: bool


@dataclass(frozen=True, slots=True)
class Lineage:
    nodes: list[Node]
    edges: list[Edge]
    columns: list[str]
    """Column labels: the stage (and round) whose candidates each column holds."""

    def node(self, candidate_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == candidate_id), None)


def ancestors(candidates: dict[str, Any], start: str | None) -> set[str]:
    """``start`` and every candidate it derives from (through recorded parents)."""
    seen: set[str] = set()
    stack = [start] if start else []
    while stack:
        cid = stack.pop()
        if cid in seen or cid not in candidates:
            continue
        seen.add(cid)
        stack.extend(candidates[cid].parents or [])
    return seen


def _column_key(candidate: Any) -> tuple[str, int]:
    origin = candidate.origin or {}
    return candidate.stage, int(origin.get("round") or 0)


def build_lineage(run: Any) -> Lineage:
    """Nodes, edges and columns of ``run`` (a ``RunRow`` with candidates and stages)."""
    candidates = {c.id: c for c in run.candidates}
    order: dict[tuple[str, int], int] = {}
    for stage in sorted(run.stages, key=lambda s: s.seq):
        order.setdefault((stage.name, stage.round), len(order))
    for candidate in sorted(run.candidates, key=lambda c: c.seq):  # stages not recorded
        order.setdefault(_column_key(candidate), len(order))
    used = sorted({order[_column_key(c)] for c in run.candidates})
    column_of = {index: position for position, index in enumerate(used)}
    keys = {index: key for key, index in order.items()}
    lineage = ancestors(candidates, run.winner_id)
    rows: dict[int, int] = {}
    nodes = []
    for candidate in sorted(run.candidates, key=lambda c: c.seq):
        column = column_of[order[_column_key(candidate)]]
        row = rows.get(column, 0)
        rows[column] = row + 1
        role = (WINNER if candidate.id == run.winner_id else
                ANCESTOR if candidate.id in lineage else OTHER)
        scores = ", ".join(f"{k}={v:.3g}" for k, v in (candidate.scores or {}).items())
        nodes.append(Node(candidate.id, column, row, candidate.stage, candidate.component,
                          candidate.answer, role, len(candidate.feedback or {}), scores))
    edges = [Edge(parent, c.id, c.id in lineage and parent in lineage)
             for c in run.candidates for parent in (c.parents or []) if parent in candidates]
    columns = []
    for index in used:
        name, round_ = keys[index]
        columns.append(name if not round_ else f"{name} · round {round_}")
    return Lineage(nodes, edges, columns)


def lineage_chart(lineage: Lineage, selected: str | None = None) -> alt.LayerChart:
    """An Altair chart of the graph; clicking a node selects it (selection ``node``)."""
    position = {n.id: n for n in lineage.nodes}
    height = max(220, 60 * max((n.row for n in lineage.nodes), default=0) + 140)
    x_scale = alt.Scale(domain=[-0.5, max(len(lineage.columns) - 0.5, 0.5)])
    y_scale = alt.Scale(domain=[max((n.row for n in lineage.nodes), default=0) + 0.7, -1.2])
    edge_data = [{"x": position[e.parent].column, "y": position[e.parent].row,
                  "x2": position[e.child].column, "y2": position[e.child].row,
                  "winner_path": e.on_winner_path} for e in lineage.edges]
    node_data = [{"id": n.id, "x": n.column, "y": n.row, "role": n.role, "stage": n.stage,
                  "component": n.component, "answer": "—" if n.answer is None else n.answer,
                  "critiques": n.critiques, "scores": n.scores,
                  "selected": n.id == selected} for n in lineage.nodes]
    header_data = [{"x": i, "y": -1, "label": label} for i, label in enumerate(lineage.columns)]
    pick = alt.selection_point(name="node", fields=["id"], on="click", clear=False)
    edges = alt.Chart(alt.Data(values=edge_data)).mark_rule().encode(
        x=alt.X("x:Q", scale=x_scale, axis=None), y=alt.Y("y:Q", scale=y_scale, axis=None),
        x2="x2:Q", y2="y2:Q",
        color=alt.condition("datum.winner_path", alt.value(COLORS[ANCESTOR]),
                            alt.value("#c5ccd3")),
        strokeWidth=alt.condition("datum.winner_path", alt.value(3), alt.value(1.2)))
    nodes = alt.Chart(alt.Data(values=node_data)).mark_circle(opacity=1).encode(
        x=alt.X("x:Q", scale=x_scale, axis=None), y=alt.Y("y:Q", scale=y_scale, axis=None),
        color=alt.Color("role:N", scale=alt.Scale(domain=list(COLORS),
                                                  range=list(COLORS.values())),
                        legend=alt.Legend(title=None, orient="bottom")),
        size=alt.condition("datum.selected", alt.value(700), alt.value(380)),
        stroke=alt.condition("datum.selected", alt.value("#1f2937"), alt.value("white")),
        strokeWidth=alt.value(2),
        tooltip=["id:N", "stage:N", "component:N", "answer:N", "scores:N", "critiques:Q"],
    ).add_params(pick)
    labels = alt.Chart(alt.Data(values=node_data)).mark_text(dy=-18, fontSize=11).encode(
        x=alt.X("x:Q", scale=x_scale, axis=None), y=alt.Y("y:Q", scale=y_scale, axis=None),
        text="answer:N")
    headers = alt.Chart(alt.Data(values=header_data)).mark_text(
        fontWeight="bold", fontSize=12).encode(
        x=alt.X("x:Q", scale=x_scale, axis=None), y=alt.Y("y:Q", scale=y_scale, axis=None),
        text="label:N")
    return (edges + nodes + labels + headers).properties(height=height).configure_view(
        strokeWidth=0)
