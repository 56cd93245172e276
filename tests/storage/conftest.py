"""Run-store fixtures: a fresh store on SQLite (a file in a tmp dir) and on PostgreSQL (a
schema per test), a plugin host with test components, and recipes on the scripted runtime."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from scripted_recipes import storage_host

from ttc.plugin_system import PluginHost

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_reason() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when a server answers."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'psycopg[binary]')"
    try:
        psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test",
                        connect_timeout=3).close()
    except Exception as exc:
        return f"no PostgreSQL server answers on 127.0.0.1:5432 ({exc})"
    return None


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search path is a fresh schema, dropped afterwards."""
    reason = postgres_reason()
    if reason:
        pytest.skip(reason)
    import psycopg

    schema = f"ttc_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{PG_ADMIN}?options=-csearch_path%3D{schema}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runs.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url: str):
    from ttc.storage import RunStore

    opened = RunStore.open(store_url)
    yield opened
    opened.close()


@pytest.fixture(autouse=True)
def _no_default_recording(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests record only where they say so."""
    monkeypatch.delenv("TTC_DATABASE_URL", raising=False)
    monkeypatch.delenv("TTC_RECORD", raising=False)
    monkeypatch.delenv("TTC_CALL_CACHE", raising=False)


@pytest.fixture
def host() -> PluginHost:
    return storage_host()
