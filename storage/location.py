"""Where the run store is, as ``ttc runs path`` shows it: the URL with its password hidden,
the file for SQLite, and which setting chose it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ttc.storage.store import DATABASE_URL_ENV, resolve_url


@dataclass(frozen=True, slots=True)
class StoreLocation:
    url: str
    """The store's SQLAlchemy URL, password hidden."""
    file: Path | None
    """The database file (SQLite on disk), else None."""
    chosen_by: str
    """``--db``, the ``TTC_DATABASE_URL`` variable, or ``default``."""

    @property
    def exists(self) -> bool | None:
        """Whether the SQLite file exists yet (None for other databases)."""
        return None if self.file is None else self.file.exists()

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "file": None if self.file is None else str(self.file),
                "exists": self.exists, "chosen_by": self.chosen_by}


def locate(url: str | None = None) -> StoreLocation:
    """Where ``RunStore.open(url)`` opens, without opening it."""
    from sqlalchemy.engine import make_url

    chosen_by = "--db" if url else (DATABASE_URL_ENV if os.environ.get(DATABASE_URL_ENV)
                                    else "default")
    parsed = make_url(resolve_url(url))
    file = None
    database = parsed.database or ""
    if (parsed.get_backend_name() == "sqlite" and database and database != ":memory:"
            and not database.startswith("file:")):
        file = Path(database).expanduser().resolve()
    return StoreLocation(parsed.render_as_string(hide_password=True), file, chosen_by)
