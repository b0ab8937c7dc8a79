"""The audit trail: every state-changing request, who made it, when, what and on which
application, with the answer it got. Append-only: the gateway only inserts, and the database
refuses UPDATE and DELETE on the table (triggers from migration 0003)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loket_messaging.outbox import utcnow
from pydantic import BaseModel, Field
from sqlalchemy import func, insert, select
from sqlmodel import Field as SQLField
from sqlmodel import Session, SQLModel, col


class AuditRow(SQLModel, table=True):
    __tablename__ = "gw_audit"
    id: int | None = SQLField(default=None, primary_key=True)
    at: datetime = SQLField(default_factory=utcnow, index=True)
    subject: str = SQLField(max_length=200, index=True)
    name: str = SQLField(max_length=200)
    roles: str = SQLField(max_length=200)
    org: str | None = SQLField(default=None, max_length=120)
    action: str = SQLField(max_length=80, index=True)
    method: str = SQLField(max_length=10)
    path: str = SQLField(max_length=600)
    application_id: str | None = SQLField(default=None, max_length=200, index=True)
    facility_id: str | None = SQLField(default=None, max_length=200)
    status: int
    request_id: str = SQLField(max_length=64)


class AuditEntry(BaseModel):
    at: datetime
    subject: str
    name: str
    roles: list[str]
    org: str | None
    action: str = Field(description="the route's operation, e.g. accept, review, slot_published")
    method: str
    path: str
    application_id: str | None
    facility_id: str | None
    status: int = Field(description="the HTTP status the request got")
    request_id: str


class AuditPage(BaseModel):
    items: list[AuditEntry]
    total: int
    offset: int
    limit: int


_RECORD = insert(AuditRow.__table__)  # type: ignore[attr-defined]  # built once: see record


def record(session: Session, **entry: Any) -> None:
    """Append one entry (AuditRow's columns but `id`; `at` defaults to now). A prebuilt
    statement run with the entry as parameters: building a statement or an ORM object per
    request cost as much as writing it."""
    session.execute(_RECORD, {"at": utcnow(), **entry})


def query(
    session: Session,
    *,
    application_id: str | None,
    subject: str | None,
    action: str | None,
    since: datetime | None,
    offset: int,
    limit: int,
) -> AuditPage:
    stmt = select(AuditRow)
    if application_id:
        stmt = stmt.where(col(AuditRow.application_id) == application_id)
    if subject:
        stmt = stmt.where(col(AuditRow.subject) == subject)
    if action:
        stmt = stmt.where(col(AuditRow.action) == action)
    if since:
        stmt = stmt.where(col(AuditRow.at) >= since)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(col(AuditRow.id)).offset(offset).limit(limit)).all()
    return AuditPage(
        items=[
            AuditEntry(
                at=r.at,
                subject=r.subject,
                name=r.name,
                roles=[x for x in r.roles.split(",") if x],
                org=r.org,
                action=r.action,
                method=r.method,
                path=r.path,
                application_id=r.application_id,
                facility_id=r.facility_id,
                status=r.status,
                request_id=r.request_id,
            )
            for r in rows
        ],
        total=total,
        offset=offset,
        limit=limit,
    )
