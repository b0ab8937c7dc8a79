"""The eligibility service's own tables."""

from __future__ import annotations

from datetime import datetime

from loket_messaging.outbox import utcnow
from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class EligibilityDecisionRow(SQLModel, table=True):
    """Every decision with the scheme version and each rule's outcome, for audit."""

    __tablename__ = "elig_decision"
    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(index=True, max_length=200)
    undertaking_id: str = Field(index=True, max_length=200)
    outcome: str = Field(max_length=40)
    sme_category: str = Field(max_length=20)
    scheme_version: str = Field(max_length=40)
    rules_json: str = Field(sa_column=Column(Text, nullable=False))
    decided_at: datetime = Field(default_factory=utcnow)
