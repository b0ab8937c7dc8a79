"""The charter service's tables: every rendered agreement, with its hash."""

from __future__ import annotations

from datetime import datetime

from loket_messaging.outbox import utcnow
from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class TermsDocumentRow(SQLModel, table=True):
    __tablename__ = "charter_terms"
    sha256: str = Field(primary_key=True, max_length=64)
    application_id: str = Field(index=True, max_length=200)
    template_id: str = Field(max_length=60)
    template_version: str = Field(max_length=20)
    language: str = Field(max_length=8)
    text: str = Field(sa_column=Column(Text, nullable=False))
    rendered_at: datetime = Field(default_factory=utcnow)
