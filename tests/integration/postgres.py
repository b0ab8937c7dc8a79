"""A PostgreSQL database of the test's own on the suite's server (`make test` provides it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from loket_messaging.db import make_engine
from sqlalchemy import Engine


@contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    """Create `<prefix>_<random>`, yield its URL, drop it (connections and all) afterwards."""
    admin = os.environ.get("LOKET_TEST_PG")
    if not admin:
        if os.environ.get("CI"):
            pytest.fail("LOKET_TEST_PG is not set: run the suite with `make test`")
        pytest.skip("no PostgreSQL (LOKET_TEST_PG); `make test` sets it up")
    db = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    try:
        yield admin.rsplit("/", 1)[0] + "/" + db
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


@contextmanager
def service_engine(kind: str, tmp_path: Path, prefix: str) -> Iterator[Engine]:
    """An engine on a fresh service database: a SQLite file, or PostgreSQL of the test's own."""
    if kind == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'service.db'}")
        yield eng
        eng.dispose()
        return
    with throwaway_database(prefix) as url:
        eng = make_engine(url)
        yield eng
        eng.dispose()
