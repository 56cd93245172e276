"""The run store: open (and migrate) a database, write rows as a run happens, read runs back.

SQLite (WAL, busy timeout, ``BEGIN IMMEDIATE`` writes) in the user's data folder by default;
any SQLAlchemy URL through ``TTC_DATABASE_URL`` or ``--db``. Opening never overwrites what it
does not recognise: a corrupt or foreign file, a newer schema or a read-only location is a
``StoreError`` that says which and how to fix it.
"""

from __future__ import annotations

import logging
import os
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Engine,
    Text,
    create_engine,
    delete,
    event,
    func,
    inspect,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from ttc.extras import install_hint
from ttc.storage.errors import RunNotFound, StoreError
from ttc.storage.models import CandidateRow, ModelCallRow, RunRow, StageRow

logger = logging.getLogger(__name__)

DATABASE_URL_ENV = "TTC_DATABASE_URL"
VERSION_TABLE = "ttc_schema_version"
BUSY_TIMEOUT_S = 60.0
MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK = zlib.crc32(b"ttc-run-store-migrations")

T = TypeVar("T")


def default_url() -> str:
    """``sqlite:///<user data folder>/runs.db`` (platformdirs ``ttc``)."""
    from platformdirs import user_data_dir

    return f"sqlite:///{Path(user_data_dir('ttc', appauthor=False)) / 'runs.db'}"


def resolve_url(url: str | None = None) -> str:
    """An explicit URL, else ``TTC_DATABASE_URL``, else the default SQLite file."""
    return url or os.environ.get(DATABASE_URL_ENV) or default_url()


def utcnow() -> datetime:
    return datetime.now(UTC)


class RunStore:
    """One database of recorded runs. Thread-safe; cheap to keep open for a process."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    # --- opening ------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str | None = None, *, migrate: bool = True) -> RunStore:
        """Open the store at ``url`` (see ``resolve_url``), creating or upgrading its schema.

        With ``migrate=False`` a store whose schema is not current is an error instead.
        """
        url = resolve_url(url)
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            engine = _sqlite_engine(url)
        else:
            try:
                engine = create_engine(url, pool_pre_ping=True)
            except ImportError as exc:  # the URL's database driver is not installed
                fix = (f"{install_hint('postgres')} and a postgresql+psycopg:// URL"
                       if parsed.get_backend_name() == "postgresql" else
                       f"install the driver {exc.name or ''} the URL names".replace("  ", " "))
                raise StoreError(f"cannot open the run store {_safe(url)}: its database "
                                 f"driver is not installed ({exc}). fix: {fix}") from None
        store = cls(engine, url)
        try:
            store._prepare_schema(migrate)
        except StoreError:
            engine.dispose()
            raise
        except DatabaseError as exc:
            engine.dispose()
            raise StoreError(
                f"cannot open the run store {_safe(url)}: {_reason(exc)}; nothing was changed. "
                "fix: check that it is a ttc run store, or point --db / TTC_DATABASE_URL at a "
                "new one"
            ) from None
        return store

    def close(self) -> None:
        self.engine.dispose()

    def _prepare_schema(self, migrate: bool) -> None:
        from alembic import command
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
        scripts = ScriptDirectory.from_config(config)
        head = scripts.get_current_head()
        with self.engine.connect() as conn, conn.begin():
            if conn.dialect.name == "postgresql":  # one migrating process at a time
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                             {"key": _MIGRATION_LOCK})
            current = self._schema_version(conn)
            if current is not None:
                try:
                    known = scripts.get_revision(current)
                except Exception:
                    known = None
                if known is None:
                    raise StoreError(
                        f"the run store {_safe(self.url)} has schema version {current!r}, "
                        "newer than this ttc knows; nothing was changed. fix: upgrade ttc "
                        "(pip install -U ttc-orchestrator), or use another --db"
                    )
            if current == head:
                return
            if not migrate:
                raise StoreError(
                    f"the run store {_safe(self.url)} has schema {current or 'none'}, not "
                    f"{head}. fix: open it with migrations enabled"
                )
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def _schema_version(self, conn: Connection) -> str | None:
        tables = set(inspect(conn).get_table_names())
        if VERSION_TABLE not in tables:
            foreign = tables if conn.dialect.name == "sqlite" else {
                t for t in tables if t.startswith("ttc_")}
            if foreign:
                raise StoreError(
                    f"{_safe(self.url)} is not a ttc run store (it holds other tables: "
                    f"{', '.join(sorted(foreign)[:5])}); nothing was changed. fix: point "
                    "--db / TTC_DATABASE_URL at a new file or an empty database"
                )
            return None
        row = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
        return None if row is None else str(row[0])

    def schema_version(self) -> str | None:
        with self.engine.connect() as conn:
            return self._schema_version(conn)

    # --- writing ------------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    def write(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one committed transaction; retried if the database is busy."""
        delay = 0.05
        for attempt in range(1, 9):
            try:
                with self._sessions.begin() as session:
                    return work(session)
            except OperationalError as exc:
                if not _busy(exc) or attempt == 8:
                    raise StoreError(
                        f"cannot write to the run store {_safe(self.url)}: {_reason(exc)}"
                    ) from exc
                logger.debug("run store busy, retrying (%s)", exc)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        raise AssertionError("unreachable")

    # --- reading ------------------------------------------------------------------------

    def resolve_run_id(self, run_id: str) -> str:
        """The full id of a run from its id or a unique prefix of it."""
        with self.session() as session:
            if session.get(RunRow, run_id) is not None:
                return run_id
            found = session.scalars(
                select(RunRow.id).where(RunRow.id.startswith(run_id, autoescape=True)).limit(2)
            ).all()
        if len(found) == 1:
            return found[0]
        if not found:
            raise RunNotFound(f"no recorded run {run_id!r} in {_safe(self.url)}; "
                              "run `ttc runs list` to see the recorded runs")
        raise RunNotFound(f"{run_id!r} matches several runs; give more of the id")

    def get_run(self, run_id: str) -> RunRow:
        """A run with its stages, candidates and model calls loaded (detached, read-only)."""
        run_id = self.resolve_run_id(run_id)
        with self.session() as session:
            run = session.scalars(
                select(RunRow).where(RunRow.id == run_id).options(
                    selectinload(RunRow.stages), selectinload(RunRow.candidates),
                    selectinload(RunRow.model_calls))
            ).one()
            session.expunge_all()
            return run

    def list_runs(
        self,
        *,
        recipe: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        text: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[RunRow]:
        """Runs, newest first, without their children. ``text``: a case-insensitive
        substring of the question (the task) or the answer; ``offset`` skips that many."""
        query = _run_filters(select(RunRow), recipe, status, since, until, text)
        query = query.order_by(RunRow.started_at.desc(), RunRow.id)
        if offset:
            query = query.offset(offset)
        if limit:
            query = query.limit(limit)
        with self.session() as session:
            return list(session.scalars(query).all())

    def run_summaries(
        self,
        *,
        recipe: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        text: str | None = None,
        limit: int = 25,
        offset: int = 0,
    ) -> list[RunSummary]:
        """One page of runs for a list view, newest first: only the columns a list shows
        (no recipe text, ledger or selection), read through the ``started_at`` index."""
        columns = [getattr(RunRow, name) for name in RunSummary.__dataclass_fields__]
        query = _run_filters(select(*columns), recipe, status, since, until, text)
        query = query.order_by(RunRow.started_at.desc(), RunRow.id).offset(offset).limit(limit)
        with self.session() as session:
            return [RunSummary(*row) for row in session.execute(query).all()]

    def count_runs(
        self,
        *,
        recipe: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        text: str | None = None,
    ) -> int:
        """How many runs match these filters (the same ones as ``list_runs``)."""
        query = _run_filters(select(func.count()).select_from(RunRow), recipe, status, since,
                             until, text)
        with self.session() as session:
            return int(session.scalar(query) or 0)

    def recipe_names(self) -> list[str]:
        """Every recipe name that has runs, sorted (read from the ``recipe_name`` index)."""
        with self.session() as session:
            return list(session.scalars(
                select(RunRow.recipe_name).distinct().order_by(RunRow.recipe_name)).all())

    def model_calls(self, run_ids: Sequence[str]) -> list[ModelCallRow]:
        """Every recorded call of these runs, in recording order."""
        with self.session() as session:
            return list(session.scalars(
                select(ModelCallRow).where(ModelCallRow.run_id.in_(list(run_ids)))
                .order_by(ModelCallRow.run_id, ModelCallRow.seq)
            ).all())

    def recorded_response(
        self, fingerprint: str, kind: str, *, occurrence: int = 0,
        runs: Sequence[str] | None = None,
    ) -> list[Any] | None:
        """The ``occurrence``-th successful recorded response with this fingerprint (in the
        given runs, else anywhere), as runtime objects; None when there is none."""
        query = select(ModelCallRow.response).where(
            ModelCallRow.fingerprint == fingerprint, ModelCallRow.kind == kind,
            ModelCallRow.error.is_(None),
        ).order_by(ModelCallRow.created_at, ModelCallRow.run_id, ModelCallRow.seq)
        if runs is not None:
            query = query.where(ModelCallRow.run_id.in_(list(runs)))
        with self.session() as session:
            found = session.scalars(query.offset(occurrence).limit(1)).first()
        return None if found is None else response_from_json(kind, found)

    def delete_run(self, run_id: str) -> str:
        run_id = self.resolve_run_id(run_id)

        def work(session: Session) -> None:
            for table in (ModelCallRow, CandidateRow, StageRow):
                session.execute(delete(table).where(table.run_id == run_id))
            session.execute(delete(RunRow).where(RunRow.id == run_id))

        self.write(work)
        return run_id

    def export_run(self, run_id: str) -> dict[str, Any]:
        """Everything recorded about a run, as JSON-ready data."""
        from ttc.storage.run_view import call_counts, run_warnings

        run = self.get_run(run_id)
        counts = call_counts(run)
        return {
            "format": "ttc-run/1",
            "run": _columns(run),
            "warnings": run_warnings(run),
            "calls": {"calls": counts.calls, "served": counts.served, "made": counts.made,
                      "failed_attempts": counts.failed_attempts},
            "stages": [_columns(s) for s in run.stages],
            "candidates": [_columns(c) for c in run.candidates],
            "model_calls": [_columns(c) for c in run.model_calls],
        }


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What a list of runs shows about one run (``RunStore.run_summaries``)."""

    id: str
    recipe_name: str
    status: str
    started_at: datetime
    wall_time: float | None
    task: Any
    answer: str | None
    calls: int
    completion_tokens: int
    replay_of: str | None

    @property
    def question(self) -> str:
        """The prompt, or the last user message of a chat task."""
        task = self.task if isinstance(self.task, dict) else {}
        for message in reversed(task.get("messages") or []):
            if isinstance(message, dict) and message.get("role") == "user":
                return str(message.get("content", ""))
        return str(task.get("prompt", ""))


def _run_filters(query: Any, recipe: str | None, status: str | None, since: datetime | None,
                 until: datetime | None, text: str | None) -> Any:
    if recipe:
        query = query.where(RunRow.recipe_name == recipe)
    if status:
        query = query.where(RunRow.status == status)
    if since:
        query = query.where(RunRow.started_at >= since)
    if until:
        query = query.where(RunRow.started_at < until)
    if text:  # the task is JSON text: search it as text, not as a JSON value
        query = query.where(or_(type_coerce(RunRow.task, Text).icontains(text, autoescape=True),
                                RunRow.answer.icontains(text, autoescape=True)))
    return query


def response_from_json(kind: str, items: list[dict[str, Any]]) -> list[Any]:
    from ttc.calls import completion_from_dict, score_result_from_dict

    build = completion_from_dict if kind == "generate" else score_result_from_dict
    return [build(item) for item in items]


def _columns(row: Any) -> dict[str, Any]:
    data = {}
    for column in row.__table__.columns:
        value = getattr(row, column.key)
        data[column.key] = value.isoformat() if isinstance(value, datetime) else value
    data.pop("run_id", None) if not isinstance(row, RunRow) else None
    return data


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        _check_sqlite_file(Path(database), url)
    engine = create_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event issues BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # Take the write lock up front: a deferred transaction that later writes can fail
        # with "database is locked" without waiting for the busy timeout.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _check_sqlite_file(path: Path, url: str) -> None:
    """Refuse a file that is not SQLite, or a location we cannot write, before connecting."""
    if path.exists():
        if path.is_dir():
            raise StoreError(f"the run store path {path} is a directory; fix: give a file path")
        # Only SQLite itself may open the file: closing any other descriptor of it drops
        # every POSIX lock this process holds on it, and another process closing the store
        # would then delete the WAL under this process's open connections (lost writes).
        if path.stat().st_size:
            _check_sqlite_tables(path)
        if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
            raise StoreError(
                f"the run store {path} is read-only (SQLite needs to write the file and its "
                "folder); fix: make it writable, or point --db / TTC_DATABASE_URL elsewhere"
            )
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.parent / f".ttc-probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise StoreError(
            f"cannot create the run store {path}: {exc.strerror or exc} (a read-only "
            "location?); fix: set TTC_DATABASE_URL or --db to a writable place"
        ) from None


def _check_sqlite_tables(path: Path) -> None:
    """Look at an existing file read-only first: switching a foreign database to WAL would
    already change it."""
    import sqlite3

    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise StoreError(
                f"{path} is not a SQLite database (corrupt, or another kind of file); "
                "nothing was changed. fix: move it away, or point --db / TTC_DATABASE_URL "
                "elsewhere") from None
        raise StoreError(
            f"cannot open the run store {path}: {exc}; nothing was changed. fix: move it "
            "away, or point --db / TTC_DATABASE_URL elsewhere"
        ) from None
    if tables and VERSION_TABLE not in tables:
        raise StoreError(
            f"{path} is not a ttc run store (it holds other tables: "
            f"{', '.join(sorted(tables)[:5])}); nothing was changed. fix: point --db / "
            "TTC_DATABASE_URL at a new file"
        )


def _busy(exc: OperationalError) -> bool:
    message = str(exc.orig).lower()
    return "locked" in message or "busy" in message or "deadlock" in message


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig or exc).strip().splitlines()[0]


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database>"
