"""Times as people read them: the store writes UTC (SQLite keeps no zone), pages show local
time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time


def local_time(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def day_start(day: date) -> datetime:
    """Midnight (local time) at the start of ``day``, as an aware datetime."""
    return datetime.combine(day, time.min).astimezone()
