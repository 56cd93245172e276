"""Recorded evaluations: an eval row per (recipe, data set, seed), an item row per task
pointing at the run that answered it. Written as the eval goes, so a killed eval resumes
where it stopped (``find``) and its summary is listed later (``list_evals``)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ttc.storage.errors import RunNotFound
from ttc.storage.models import CandidateRow, EvalItemRow, EvalRow, RunRow, StageRow
from ttc.storage.store import RunStore, utcnow


@dataclass(frozen=True, slots=True)
class NewEval:
    """What identifies an eval before it runs."""

    name: str
    recipe_name: str
    recipe_text: str
    recipe_hash: str
    recipe_source: str
    dataset: str
    dataset_hash: str
    seed: int
    key: str
    options: dict[str, Any]
    items: Sequence[tuple[str, str | None]]
    """(item id, reference) per item, in data set order."""


@dataclass(frozen=True, slots=True)
class EvalListing:
    """What a list of evals shows about one eval (``EvalStore.eval_listings``): no recipe
    text, options or items."""

    id: str
    name: str
    recipe_name: str
    dataset: str
    seed: int
    items: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    wall_time: float
    summary: Any
    """The ``EvalSummary`` as JSON once the eval finished, else None."""


ITEM_OUTCOMES = ("wrong", "right", "ungraded")
"""What ``EvalStore.items`` can keep: graded wrong, graded right, not graded (yet)."""


def new_eval_id() -> str:
    return "e-" + uuid.uuid4().hex[:12]


def item_run_id(eval_id: str, seq: int) -> str:
    """The run that answers item ``seq``: fixed up front, so a resumed eval finds it."""
    return f"r-{eval_id[2:]}-{seq:05d}"


class EvalStore:
    """Evaluations in a ``RunStore``'s database."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def find(self, key: str) -> EvalRow | None:
        """The newest eval with this key (same recipe, data set, items and seed)."""
        with self.store.session() as session:
            found = session.scalars(select(EvalRow).where(EvalRow.key == key)
                                    .order_by(EvalRow.started_at.desc()).limit(1)).first()
            if found is not None:
                session.expunge(found)
            return found

    def create(self, new: NewEval) -> str:
        eval_id = new_eval_id()

        def work(session: Session) -> None:
            session.add(EvalRow(
                id=eval_id, name=new.name, recipe_name=new.recipe_name,
                recipe_text=new.recipe_text, recipe_hash=new.recipe_hash,
                recipe_source=new.recipe_source, dataset=new.dataset,
                dataset_hash=new.dataset_hash, items=len(new.items), seed=new.seed,
                key=new.key, options=new.options, status="running", started_at=utcnow(),
                wall_time=0.0, pid=os.getpid(), host=socket.gethostname()))
            session.flush()
            session.add_all(EvalItemRow(
                eval_id=eval_id, seq=seq, item_id=item_id, run_id=item_run_id(eval_id, seq),
                status="pending", reference=reference, prompt_tokens=0, cached_tokens=0,
                completion_tokens=0, calls=0, wall_time=0.0)
                for seq, (item_id, reference) in enumerate(new.items))

        self.store.write(work)
        return eval_id

    def reopen(self, eval_id: str) -> None:
        """Mark an eval running again in this process (a resume)."""

        def work(session: Session) -> None:
            row = session.get(EvalRow, eval_id)
            if row is not None:
                row.status, row.pid, row.host = "running", os.getpid(), socket.gethostname()

        self.store.write(work)

    def record_item(self, eval_id: str, seq: int, **values: Any) -> None:
        def work(session: Session) -> None:
            row = session.get(EvalItemRow, (eval_id, seq))
            if row is not None:
                for name, value in values.items():
                    setattr(row, name, value)

        self.store.write(work)

    def finish(self, eval_id: str, status: str, summary: dict[str, Any],
               wall_time: float) -> None:
        def work(session: Session) -> None:
            row = session.get(EvalRow, eval_id)
            if row is not None:
                row.status, row.summary, row.finished_at = status, summary, utcnow()
                row.wall_time = (row.wall_time or 0.0) + wall_time

        self.store.write(work)

    def resolve(self, eval_id: str) -> str:
        """The full id of an eval from its id or a unique prefix."""
        with self.store.session() as session:
            if session.get(EvalRow, eval_id) is not None:
                return eval_id
            found = session.scalars(select(EvalRow.id).where(
                EvalRow.id.startswith(eval_id, autoescape=True)).limit(2)).all()
        if len(found) == 1:
            return found[0]
        if not found:
            raise RunNotFound(f"no recorded eval {eval_id!r}; run `ttc evals list` to see them")
        raise RunNotFound(f"{eval_id!r} matches several evals; give more of the id")

    def get(self, eval_id: str) -> EvalRow:
        """An eval with its items loaded (detached)."""
        eval_id = self.resolve(eval_id)
        with self.store.session() as session:
            row = session.scalars(select(EvalRow).where(EvalRow.id == eval_id)
                                  .options(selectinload(EvalRow.item_rows))).one()
            session.expunge_all()
            return row

    def list_evals(self, *, recipe: str | None = None, dataset: str | None = None,
                   since: datetime | None = None, limit: int | None = 100) -> list[EvalRow]:
        """Evals, newest first, without their items."""
        query = select(EvalRow).order_by(EvalRow.started_at.desc(), EvalRow.id)
        if recipe:
            query = query.where(EvalRow.recipe_name == recipe)
        if dataset:
            query = query.where(EvalRow.dataset == dataset)
        if since:
            query = query.where(EvalRow.started_at >= since)
        if limit:
            query = query.limit(limit)
        with self.store.session() as session:
            rows = list(session.scalars(query).all())
            session.expunge_all()
            return rows

    def runs(self, run_ids: Iterable[str]) -> dict[str, RunRow]:
        """Runs by id, without their children."""
        ids = list(run_ids)
        with self.store.session() as session:
            rows = session.scalars(select(RunRow).where(RunRow.id.in_(ids))).all()
            session.expunge_all()
            return {r.id: r for r in rows}

    def candidates(self, run_ids: Iterable[str]) -> dict[str, list[CandidateRow]]:
        """Every candidate of these runs, by run, in recording order."""
        ids = list(run_ids)
        out: dict[str, list[CandidateRow]] = {run_id: [] for run_id in ids}
        with self.store.session() as session:
            for start in range(0, len(ids), 500):
                rows = session.scalars(
                    select(CandidateRow).where(CandidateRow.run_id.in_(ids[start:start + 500]))
                    .order_by(CandidateRow.run_id, CandidateRow.seq)).all()
                for row in rows:
                    out[row.run_id].append(row)
            session.expunge_all()
        return out

    def stages(self, run_ids: Iterable[str]) -> dict[str, list[StageRow]]:
        """Every stage of these runs, by run, in recording order."""
        ids = list(run_ids)
        out: dict[str, list[StageRow]] = {run_id: [] for run_id in ids}
        with self.store.session() as session:
            for start in range(0, len(ids), 500):
                rows = session.scalars(
                    select(StageRow).where(StageRow.run_id.in_(ids[start:start + 500]))
                    .order_by(StageRow.run_id, StageRow.seq)).all()
                for row in rows:
                    out[row.run_id].append(row)
            session.expunge_all()
        return out

    # --- pages for list views (the UI): bounded queries, never a whole table -------------

    def eval_listings(self, *, recipe: str | None = None, dataset: str | None = None,
                      status: str | None = None, ids: Sequence[str] | None = None,
                      limit: int = 25, offset: int = 0) -> list[EvalListing]:
        """One page of evals, newest first, with only the columns a list shows (read through
        the ``started_at`` index)."""
        columns = [getattr(EvalRow, name) for name in EvalListing.__dataclass_fields__]
        query = _eval_filters(select(*columns), recipe, dataset, status, ids)
        query = query.order_by(EvalRow.started_at.desc(), EvalRow.id).offset(offset).limit(limit)
        with self.store.session() as session:
            return [EvalListing(*row) for row in session.execute(query).all()]

    def count_evals(self, *, recipe: str | None = None, dataset: str | None = None,
                    status: str | None = None) -> int:
        """How many evals match these filters (the same as ``eval_listings``)."""
        query = _eval_filters(select(func.count()).select_from(EvalRow), recipe, dataset,
                              status, None)
        with self.store.session() as session:
            return int(session.scalar(query) or 0)

    def recipe_names(self) -> list[str]:
        """Every recipe name that has evals, sorted (from the ``recipe_name`` index)."""
        with self.store.session() as session:
            return list(session.scalars(select(EvalRow.recipe_name).distinct()
                                        .order_by(EvalRow.recipe_name)).all())

    def datasets(self) -> list[str]:
        """Every data set that has evals, sorted (from the ``dataset`` index)."""
        with self.store.session() as session:
            return list(session.scalars(select(EvalRow.dataset).distinct()
                                        .order_by(EvalRow.dataset)).all())

    def get_header(self, eval_id: str) -> EvalRow:
        """An eval without its items (detached; ``item_rows`` is not loaded): what a page
        about a large eval reads before it pages through the items."""
        eval_id = self.resolve(eval_id)
        with self.store.session() as session:
            row = session.get(EvalRow, eval_id)
            if row is None:  # deleted since ``resolve``
                raise RunNotFound(f"no recorded eval {eval_id!r}")
            session.expunge(row)
            return row

    def items(self, eval_id: str, *, outcome: str | None = None, offset: int = 0,
              limit: int = 50, only_wrong: bool = False) -> list[EvalItemRow]:
        """One page of an eval's items in data set order (the primary key's order);
        ``outcome`` keeps one of ``ITEM_OUTCOMES`` (``only_wrong`` is ``outcome="wrong"``)."""
        query = _item_filter(select(EvalItemRow).where(EvalItemRow.eval_id == eval_id),
                             "wrong" if only_wrong else outcome)
        query = query.order_by(EvalItemRow.seq).offset(offset).limit(limit)
        with self.store.session() as session:
            rows = list(session.scalars(query).all())
            session.expunge_all()
            return rows

    def count_items(self, eval_id: str, *, outcome: str | None = None,
                    only_wrong: bool = False) -> int:
        query = _item_filter(select(func.count()).select_from(EvalItemRow)
                             .where(EvalItemRow.eval_id == eval_id),
                             "wrong" if only_wrong else outcome)
        with self.store.session() as session:
            return int(session.scalar(query) or 0)

    def run_tasks(self, run_ids: Iterable[str]) -> dict[str, Any]:
        """The task (prompt or messages, reference) of each of these runs, and nothing else
        of them."""
        ids = list(run_ids)
        out: dict[str, Any] = {}
        with self.store.session() as session:
            for start in range(0, len(ids), 500):
                out.update(session.execute(select(RunRow.id, RunRow.task).where(
                    RunRow.id.in_(ids[start:start + 500]))).all())
        return out


def _eval_filters(query: Any, recipe: str | None, dataset: str | None, status: str | None,
                  ids: Sequence[str] | None) -> Any:
    if recipe:
        query = query.where(EvalRow.recipe_name == recipe)
    if dataset:
        query = query.where(EvalRow.dataset == dataset)
    if status:
        query = query.where(EvalRow.status == status)
    if ids is not None:
        query = query.where(EvalRow.id.in_(list(ids)))
    return query


def _item_filter(query: Any, outcome: str | None) -> Any:
    if outcome is None:
        return query
    if outcome not in ITEM_OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(ITEM_OUTCOMES)}, not {outcome!r}")
    if outcome == "ungraded":
        return query.where(EvalItemRow.correct.is_(None))
    return query.where(EvalItemRow.correct.is_(outcome == "right"))
