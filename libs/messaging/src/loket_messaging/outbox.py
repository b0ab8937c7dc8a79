"""Inbox and transactional outbox tables, kept in each service's own database."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime

from loket_contracts.envelope import CloudEvent, make_event
from pydantic import BaseModel
from sqlalchemy import Column, Executable, LargeBinary, Table, Text
from sqlmodel import Field, Session, SQLModel

from loket_messaging import telemetry
from loket_messaging.clock import utcnow
from loket_messaging.db import insert_new


class InboxEntry(SQLModel, table=True):
    """An event this service has processed; its presence makes a redelivery a no-op."""

    __tablename__ = "msg_inbox"
    event_id: str = Field(primary_key=True, max_length=200)
    event_type: str = Field(max_length=200)
    topic: str = Field(max_length=200)
    processed_at: datetime = Field(default_factory=utcnow)


class OutboxEntry(SQLModel, table=True):
    """An event committed with the state change that caused it, published by the relay."""

    __tablename__ = "msg_outbox"
    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=200)
    topic: str = Field(max_length=200)
    key: str | None = Field(default=None, max_length=200)
    headers_json: str = Field(sa_column=Column(Text, nullable=False))
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    # The inbound event whose handling staged this row: asked again, it is sent again.
    caused_by: str | None = Field(default=None, max_length=200, index=True)
    published_at: datetime | None = Field(default=None, index=True)
    # Set when the broker can never take the row (too large...): the relay skips it.
    failed_at: datetime | None = Field(default=None)
    failure_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


@dataclass(frozen=True)
class Outgoing:
    """An event a handler wants published once its transaction commits."""

    topic: str
    event: CloudEvent
    key: str | None = None


@dataclass(frozen=True)
class Emitter:
    """Addresses a service's events: one topic, one CloudEvents source, keyed by application."""

    topic: str
    source: str

    def __call__(self, type_: str, body: BaseModel, application_id: str) -> Outgoing:
        event = make_event(
            source=self.source, type_=type_, body=body, correlation_id=application_id
        )
        return Outgoing(self.topic, event)


INBOX: Table = InboxEntry.__table__  # type: ignore[attr-defined]
OUTBOX: Table = OutboxEntry.__table__  # type: ignore[attr-defined]
_STAGE = OUTBOX.insert()


@functools.cache
def _claim_statement(dialect: str) -> Executable:
    return insert_new(INBOX, "event_id", dialect).returning(INBOX.c.event_id)


def claim(session: Session, event_id: str, event_type: str, topic: str) -> bool:
    """Record the event in the inbox in one statement (INSERT … ON CONFLICT DO NOTHING):
    True if it is new here. A second replica with the same event waits for the first one's
    transaction and then finds it done, instead of doing the work twice and failing late."""
    # Core, not the ORM's bulk insert: RETURNING says whether the row is new.
    statement = _claim_statement(session.get_bind().dialect.name)
    row = {"event_id": event_id, "event_type": event_type, "topic": topic, "processed_at": utcnow()}
    return session.execute(statement, row).first() is not None


def stage(session: Session, outgoing: Outgoing, caused_by: str | None = None) -> None:
    # The trace of the work that staged the event goes with it (the relay publishes later),
    # and the event that caused it: an answer names its command.
    event = outgoing.event
    if caused_by is not None and event.causation_id is None:
        event = event.model_copy(update={"causation_id": caused_by})
    raw = event.kafka_headers()
    telemetry.inject(raw)
    headers = [(k, v.decode()) for k, v in raw]
    # A Core INSERT, not an ORM object: nothing reads the row back in this transaction, and
    # building and flushing a model per event was most of the cost of staging it.
    session.execute(
        _STAGE,
        {
            "event_id": outgoing.event.id,
            "topic": outgoing.topic,
            "key": outgoing.key or outgoing.event.correlation_id,
            "headers_json": json.dumps(headers),
            "body": outgoing.event.data,
            "created_at": utcnow(),
            "caused_by": caused_by,
        },
    )
