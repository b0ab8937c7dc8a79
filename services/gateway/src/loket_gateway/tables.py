"""The gateway's own table: Idempotency-Key → application."""

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
