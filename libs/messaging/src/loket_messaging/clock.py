"""One clock for the services: aware UTC (SQLModel stores aware datetimes and returns UTC)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
