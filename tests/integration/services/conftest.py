"""Service handlers against real databases (SQLite file and PostgreSQL), without Kafka: the
unit of work, conditional updates and row locks are what is under test here."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from loket_messaging.db import create_schema, make_engine
from sqlalchemy import Engine

from tests.integration.postgres import throwaway_database


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'service.db'}"
        else:
            url = stack.enter_context(throwaway_database("loket_it"))
        eng = make_engine(url)
        create_schema(eng)
        yield eng
        eng.dispose()
