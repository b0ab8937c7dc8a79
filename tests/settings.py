"""Settings of a throwaway Loket process for tests: its own SQLite file, no Temporal."""

from __future__ import annotations

import uuid
from pathlib import Path

from loket_messaging import Settings


def local_settings(
    tmp_path: Path, service: str | None = None, bootstrap: str = "127.0.0.1:1"
) -> Settings:
    """A unique service name unless given (its consumer group and database file follow it)."""
    return Settings.local(tmp_path, service or f"test-{uuid.uuid4().hex[:6]}", bootstrap)
