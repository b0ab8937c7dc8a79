"""The inbox claim is one INSERT … ON CONFLICT DO NOTHING on both databases: new once, then
a duplicate, and a rolled-back claim leaves the event new."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from loket_messaging.db import create_schema, unit_of_work
from loket_messaging.outbox import claim
from sqlalchemy import Engine

from tests.integration.postgres import service_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with service_engine(request.param, tmp_path, "loket_inbox") as eng:
        create_schema(eng)
        yield eng


def test_an_event_is_new_once(engine: Engine) -> None:
    with unit_of_work(engine) as session:
        assert claim(session, "e-1", "t", "topic")
        assert not claim(session, "e-1", "t", "topic")
    with unit_of_work(engine) as session:
        assert not claim(session, "e-1", "t", "topic")  # committed: a redelivery


def test_a_claim_rolled_back_with_its_work_is_new_again(engine: Engine) -> None:
    with pytest.raises(RuntimeError), unit_of_work(engine) as session:
        assert claim(session, "e-2", "t", "topic")
        raise RuntimeError("the handler failed")
    with unit_of_work(engine) as session:
        assert claim(session, "e-2", "t", "topic")
