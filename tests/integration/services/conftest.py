"""Service handlers against real databases (SQLite file and PostgreSQL), without Kafka: the
unit of work, conditional updates and row locks are what is under test here."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from loket_messaging.db import create_schema, make_engine
from sqlalchemy import Engine


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'service.db'}"
    else:
        admin = os.environ.get("LOKET_TEST_PG")
        if not admin:
            if os.environ.get("CI"):
                pytest.fail("LOKET_TEST_PG is not set: run the suite with `make test`")
            pytest.skip("no PostgreSQL (LOKET_TEST_PG)")
        db = f"loket_it_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db}"')
        url = admin.rsplit("/", 1)[0] + "/" + db
    eng = make_engine(url)
    create_schema(eng)
    yield eng
    eng.dispose()
    if request.param == "postgresql":
        with psycopg.connect(os.environ["LOKET_TEST_PG"], autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{db}" WITH (FORCE)')
