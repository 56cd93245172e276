"""The run store's tables, as typed SQLAlchemy 2 models.

JSON payloads are stored as text written by ``json.dumps`` so floats (logprobs, including
``-inf``) round-trip bit for bit on every backend; nothing queries inside them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class JSONText(TypeDecorator[Any]):
    """JSON kept as text: exact floats, NaN/Infinity allowed, portable across backends."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_plain)

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        return None if value is None else json.loads(value)


def _plain(value: Any) -> Any:
    from collections.abc import Mapping

    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class Base(DeclarativeBase):
    pass


class RunRow(Base):
    __tablename__ = "ttc_runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    recipe_name: Mapped[str] = mapped_column(String(200), index=True)
    recipe_text: Mapped[str] = mapped_column(Text)
    recipe_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text, default="")
    task: Mapped[Any] = mapped_column(JSONText)
    seed: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(32), index=True)
    """``running``, ``succeeded``, ``budget_exhausted`` or ``failed``."""
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    wall_time: Mapped[float | None] = mapped_column(Float)
    answer: Mapped[str | None] = mapped_column(Text)
    winner_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    failed_calls: Mapped[int] = mapped_column(Integer, default=0)
    ledger: Mapped[Any] = mapped_column(JSONText, nullable=True)
    selection: Mapped[Any] = mapped_column(JSONText, nullable=True)
    replay_of: Mapped[str | None] = mapped_column(String(64))
    """The run whose recorded calls this run re-used (replay), if any."""
    resumes: Mapped[int] = mapped_column(Integer, default=0)
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))

    stages: Mapped[list[StageRow]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True,
        order_by="StageRow.seq",
    )
    candidates: Mapped[list[CandidateRow]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True,
        order_by="CandidateRow.seq",
    )
    model_calls: Mapped[list[ModelCallRow]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True,
        order_by="ModelCallRow.seq",
    )


class StageRow(Base):
    __tablename__ = "ttc_stages"
    __table_args__ = (Index("ix_ttc_stages_run_name_round", "run_id", "name", "round",
                            unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("ttc_runs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    index: Mapped[int] = mapped_column(Integer)
    round: Mapped[int] = mapped_column(Integer, default=0)
    components: Mapped[Any] = mapped_column(JSONText)
    status: Mapped[str] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    wall_time: Mapped[float] = mapped_column(Float, default=0.0)
    usage: Mapped[Any] = mapped_column(JSONText)
    pool: Mapped[Any] = mapped_column(JSONText)
    """Candidate ids of the stage's output pool, in order."""
    selection: Mapped[Any] = mapped_column(JSONText, nullable=True)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    run: Mapped[RunRow] = relationship(back_populates="stages")


class CandidateRow(Base):
    __tablename__ = "ttc_candidates"
    __table_args__ = (Index("ix_ttc_candidates_run_stage", "run_id", "stage"),)

    run_id: Mapped[str] = mapped_column(ForeignKey("ttc_runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(255))
    component: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    parents: Mapped[Any] = mapped_column(JSONText)
    """Ids of the candidates this one was derived from (the lineage DAG's edges)."""
    scores: Mapped[Any] = mapped_column(JSONText)
    feedback: Mapped[Any] = mapped_column(JSONText)
    origin: Mapped[Any] = mapped_column(JSONText)
    tokens: Mapped[Any] = mapped_column(JSONText, nullable=True)
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    artifacts: Mapped[Any] = mapped_column(JSONText, nullable=True)
    """What components derived from the candidate (e.g. a program's output), by component."""

    run: Mapped[RunRow] = relationship(back_populates="candidates")


class ModelCallRow(Base):
    __tablename__ = "ttc_model_calls"
    __table_args__ = (
        Index("ix_ttc_model_calls_run_seq", "run_id", "seq", unique=True),
        Index("ix_ttc_model_calls_run_fingerprint", "run_id", "fingerprint"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("ttc_runs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    """Order of recording within the run: identical calls are served back in this order."""
    stage: Mapped[str] = mapped_column(String(255))
    component: Mapped[str] = mapped_column(String(200))
    model_alias: Mapped[str] = mapped_column(String(200))
    runtime: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(16))
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    request: Mapped[Any] = mapped_column(JSONText)
    response: Mapped[Any] = mapped_column(JSONText, nullable=True)
    error: Mapped[str | None] = mapped_column(Text)
    latency: Mapped[float] = mapped_column(Float)
    attempt: Mapped[int] = mapped_column(Integer)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    replayed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    run: Mapped[RunRow] = relationship(back_populates="model_calls")


class EvalRow(Base):
    """One recipe evaluated on one data set with one seed: its items are recorded runs."""

    __tablename__ = "ttc_evals"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    recipe_name: Mapped[str] = mapped_column(String(200), index=True)
    recipe_text: Mapped[str] = mapped_column(Text)
    recipe_hash: Mapped[str] = mapped_column(String(64))
    recipe_source: Mapped[str] = mapped_column(Text, default="")
    dataset: Mapped[str] = mapped_column(String(500), index=True)
    dataset_hash: Mapped[str] = mapped_column(String(64))
    items: Mapped[int] = mapped_column(Integer)
    """How many items the eval covers (after ``--limit``)."""
    seed: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(64), index=True)
    """Recipe, data set, items and seed hashed: an unfinished eval with the same key is
    resumed instead of started again."""
    options: Mapped[Any] = mapped_column(JSONText)
    status: Mapped[str] = mapped_column(String(32), index=True)
    """``running``, ``finished`` or ``failed``."""
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    wall_time: Mapped[float] = mapped_column(Float, default=0.0)
    summary: Mapped[Any] = mapped_column(JSONText, nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))

    item_rows: Mapped[list[EvalItemRow]] = relationship(
        back_populates="evaluation", cascade="all, delete-orphan", passive_deletes=True,
        order_by="EvalItemRow.seq",
    )


class EvalItemRow(Base):
    """One graded item of an eval, pointing at the run that answered it."""

    __tablename__ = "ttc_eval_items"
    __table_args__ = (Index("ix_ttc_eval_items_eval_item", "eval_id", "item_id", unique=True),)

    eval_id: Mapped[str] = mapped_column(ForeignKey("ttc_evals.id", ondelete="CASCADE"),
                                         primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    """The item's position in the data set."""
    item_id: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(32))
    """The run's status, or ``pending`` before it finished."""
    reference: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    correct: Mapped[bool | None] = mapped_column(Boolean)
    """None until graded, and for an item whose run failed to finish."""
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    wall_time: Mapped[float] = mapped_column(Float, default=0.0)
    grading: Mapped[Any] = mapped_column(JSONText, nullable=True)
    """How it was graded (format, details such as tests passed)."""

    evaluation: Mapped[EvalRow] = relationship(back_populates="item_rows")
