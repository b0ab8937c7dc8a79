"""The charter service's tables: rendered agreements and the facilities' addenda."""

from __future__ import annotations

from datetime import datetime

from loket_messaging.outbox import utcnow
from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class TermsDocumentRow(SQLModel, table=True):
    """Every agreement drafted: immutable once written (a new draft is a new row)."""

    __tablename__ = "charter_terms"
    sha256: str = Field(primary_key=True, max_length=64)
    application_id: str = Field(index=True, max_length=200)
    template_id: str = Field(max_length=60)
    template_version: str = Field(max_length=20)
    language: str = Field(max_length=8)
    text: str = Field(sa_column=Column(Text, nullable=False))
    rendered_at: datetime = Field(default_factory=utcnow)


class FacilityTermsRow(SQLModel, table=True):
    """A facility's current addendum; newest sequence wins."""

    __tablename__ = "charter_facility_terms"
    facility_id: str = Field(primary_key=True, max_length=120)
    sequence: int
    safety_rules: str = Field(sa_column=Column(Text, nullable=False))
    sample_handling: str = Field(sa_column=Column(Text, nullable=False))
    local_law_notes: str = Field(sa_column=Column(Text, nullable=False))


class AcceptanceRow(SQLModel, table=True):
    """An applicant's acceptance: inserted once, never updated."""

    __tablename__ = "charter_acceptance"
    application_id: str = Field(primary_key=True, max_length=200)
    terms_sha256: str = Field(primary_key=True, max_length=64)
    template_id: str = Field(max_length=60)
    template_version: str = Field(max_length=20)
    language: str = Field(max_length=8)
    decided_by: str | None = Field(default=None, max_length=200)
    accepted_at: datetime
    request_json: str = Field(sa_column=Column(Text, nullable=False))
