"""The relay's pass with a recording sender: rows are handed over together and marked in order;
a broker that stops taking rows leaves every row from the first refused one for the next pass;
a row the broker can never take is set aside and does not stop the rest."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from loket_contracts.envelope import make_event
from loket_messaging.db import create_schema, make_engine, unit_of_work
from loket_messaging.outbox import OutboxEntry, Outgoing, stage
from loket_messaging.senders import Headers, publish_pending
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session, col, select


class Note(BaseModel):
    n: int


class Recording:
    """Takes every row at once; the acknowledgement of a row may fail as the test says."""

    def __init__(self, fail: dict[int, Exception] | None = None) -> None:
        self.fail = fail or {}
        self.handed: list[int] = []
        self.steps: list[str] = []

    async def enqueue(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Headers
    ) -> Awaitable[Any]:
        n = Note.model_validate_json(value or b"").n
        self.handed.append(n)
        self.steps.append(f"hand {n}")
        return self._ack(n)

    async def _ack(self, n: int) -> None:
        self.steps.append(f"ack {n}")
        if n in self.fail:
            raise self.fail[n]

    async def send(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Headers
    ) -> None:
        await (await self.enqueue(topic, value, key, headers))


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'relay.db'}")
    create_schema(engine)
    with unit_of_work(engine) as session:
        for n in range(1, 6):
            event = make_event(source="test", type_="test.note.v1", body=Note(n=n))
            stage(session, Outgoing("test.notes.v1", event, key="k"))
    return engine


def published(engine: Engine) -> tuple[list[int], list[int]]:
    with Session(engine) as session:
        rows = session.scalars(select(OutboxEntry).order_by(col(OutboxEntry.id))).all()
    n = [Note.model_validate_json(r.body).n for r in rows]
    return (
        [x for x, r in zip(n, rows, strict=True) if r.published_at is not None],
        [x for x, r in zip(n, rows, strict=True) if r.failed_at is not None],
    )


async def test_a_page_is_handed_over_at_once_and_marked_in_order(engine: Engine) -> None:
    sender = Recording()
    assert await publish_pending(engine, sender) == 5
    # every row handed to the producer before the first acknowledgement is awaited
    assert sender.steps == [f"hand {n}" for n in range(1, 6)] + [f"ack {n}" for n in range(1, 6)]
    assert published(engine) == ([1, 2, 3, 4, 5], [])
    assert await publish_pending(engine, sender) == 0  # nothing twice


async def test_rows_from_the_first_refused_one_wait_for_the_next_pass(engine: Engine) -> None:
    with pytest.raises(KafkaConnectionError):
        await publish_pending(engine, Recording({3: KafkaConnectionError("broker away")}))
    assert published(engine) == ([1, 2], [])  # 4 and 5 went, but after 3: they go again
    again = Recording()
    assert await publish_pending(engine, again) == 3
    assert again.handed == [3, 4, 5]


async def test_a_row_the_broker_can_never_take_is_set_aside(engine: Engine) -> None:
    assert await publish_pending(engine, Recording({2: MessageSizeTooLargeError()})) == 5
    assert published(engine) == ([1, 3, 4, 5], [2])


class Headed(Recording):
    """Keeps each row's CloudEvents headers."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: dict[int, dict[str, str]] = {}

    async def enqueue(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Headers
    ) -> Awaitable[Any]:
        n = Note.model_validate_json(value or b"").n
        self.headers[n] = {k: v.decode() for k, v in headers}
        return await super().enqueue(topic, value, key, headers)


async def test_an_answer_names_the_command_that_caused_it(tmp_path: Path) -> None:
    """The workflow worker hands an answer straight to the send that asked by this name."""
    engine = make_engine(f"sqlite:///{tmp_path / 'answers.db'}")
    create_schema(engine)
    with unit_of_work(engine) as session:
        for n, cause in ((1, "app-1/eligibility"), (2, None)):
            event = make_event(source="test", type_="test.note.v1", body=Note(n=n))
            stage(session, Outgoing("test.notes.v1", event, key="k"), caused_by=cause)
    sender = Headed()
    assert await publish_pending(engine, sender) == 2
    assert sender.headers[1]["ce_causationid"] == "app-1/eligibility"
    assert "ce_causationid" not in sender.headers[2]
