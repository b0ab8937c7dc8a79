"""One clock for the services: aware UTC (SQLModel stores aware datetimes and returns UTC)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A datetime read back from SQLite, which keeps no zone: UTC, as it was written."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
