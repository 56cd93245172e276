"""Alembic environment: runs on the connection ``RunStore`` hands over (never a new one).

The caller holds the write lock (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock)
for the whole upgrade, so processes that open a new store at once migrate it only once.
"""

from __future__ import annotations

from alembic import context

from ttc.storage.models import Base

VERSION_TABLE = "ttc_schema_version"

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
