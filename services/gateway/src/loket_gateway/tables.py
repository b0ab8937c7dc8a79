"""The gateway's own tables: Idempotency-Key → application; the programme's history."""

from __future__ import annotations

from datetime import datetime

from loket_messaging.outbox import utcnow
from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class IdempotencyRow(SQLModel, table=True):
    __tablename__ = "gw_idempotency"
    key: str = Field(primary_key=True, max_length=200)
    request_sha256: str = Field(max_length=64)
    application_id: str = Field(max_length=200)
    workflow_input_json: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class SnapshotRow(SQLModel, table=True):
    """One figure at one moment: the services answer with how things stand now, the gateway
    keeps the answers (every LOKET_SNAPSHOT_S) so managers see them over time."""

    __tablename__ = "gw_snapshot"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    kind: str = Field(max_length=20, index=True)  # budget | utilisation
    key: str = Field(max_length=200)  # call · area, or a facility country
    values_json: str = Field(sa_column=Column(Text, nullable=False))


class CallRow(SQLModel, table=True):
    """A call as it stands: its newest version (the programme owns calls here)."""

    __tablename__ = "gw_call"
    call_id: str = Field(primary_key=True, max_length=64)
    version: int
    status: str = Field(max_length=10)
    call_json: str = Field(sa_column=Column(Text, nullable=False))  # loket_contracts.calls.Call


class CallVersionRow(SQLModel, table=True):
    """Every version of every call, with who made it and why: append-only."""

    __tablename__ = "gw_call_version"
    call_id: str = Field(primary_key=True, max_length=64)
    version: int = Field(primary_key=True)
    changed_at: datetime = Field(default_factory=utcnow)
    changed_by: str = Field(max_length=200)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    call_json: str = Field(sa_column=Column(Text, nullable=False))
