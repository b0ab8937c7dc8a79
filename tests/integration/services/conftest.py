"""Service handlers against real databases (SQLite file and PostgreSQL), without Kafka: the
unit of work, conditional updates and row locks are what is under test here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from loket_messaging.db import create_schema
from sqlalchemy import Engine

from tests.integration.postgres import service_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with service_engine(request.param, tmp_path, "loket_it") as eng:
        create_schema(eng)
        yield eng
