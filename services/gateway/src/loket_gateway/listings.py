"""The gateway's read model for listings: one row per application, kept from the stage events
the workflows publish (Temporal's search attributes are eventually consistent and not a query
API for applicants or facilities). Consumed like every service: inbox, offsets after commit."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from loket_contracts.application import (
    STAGE_CHANGED,
    ApplicationInput,
    Stage,
    StageChanged,
    Terms,
)
from loket_contracts.envelope import CloudEvent
from loket_contracts.topics import APPLICATION_EVENTS
from loket_messaging import Outgoing, ServiceRuntime, metrics
from loket_messaging.clock import as_utc
from loket_messaging.outbox import utcnow
from loket_messaging.settings import Settings
from pydantic import BaseModel, Field
from sqlalchemy import Column, Table, Text, bindparam, func, insert, select, update
from sqlmodel import Field as SQLField
from sqlmodel import Session, SQLModel, col


class ApplicationRow(SQLModel, table=True):
    __tablename__ = "gw_application"
    application_id: str = SQLField(primary_key=True, max_length=200)
    owner_org: str | None = SQLField(default=None, max_length=120, index=True)
    sequence: int = 0  # of the last stage change applied: older ones change nothing
    stage: str = SQLField(max_length=40, index=True)
    stage_at: datetime
    submitted_at: datetime = SQLField(index=True)
    applicant_name: str = SQLField(max_length=300)
    applicant_country: str = SQLField(max_length=2, index=True)
    priority_area: str = SQLField(max_length=60, index=True)
    call_id: str = SQLField(max_length=60, index=True)
    facility_countries: str = SQLField(default=",", max_length=200)  # ",DE,SE," for LIKE
    voucher_id: str | None = SQLField(default=None, max_length=60)
    reasons: str = SQLField(default="", sa_column=Column(Text, nullable=False))
    # The terms on offer as the stage events last told them (None: none, or not told in
    # full: the workflow is asked instead).
    terms_sha256: str | None = SQLField(default=None, max_length=64)
    terms_json: str | None = SQLField(default=None, sa_column=Column(Text, nullable=True))
    updated_at: datetime = SQLField(default_factory=utcnow)


_APP: Table = ApplicationRow.__table__  # type: ignore[attr-defined]
# The read model's statements, built once: building one per stage event cost as much as
# running it. Each runs with the row's values as parameters (keys named after columns).
_SEEN = select(_APP.c.sequence, _APP.c.stage, _APP.c.stage_at, _APP.c.terms_sha256).where(
    _APP.c.application_id == bindparam("id")
)
_NEWER = update(_APP).where(
    # Older changes never overwrite newer ones, whoever wrote in between.
    _APP.c.application_id == bindparam("id"),
    _APP.c.sequence < bindparam("newer_than"),
)
_OWNER = select(_APP.c.owner_org).where(_APP.c.application_id == bindparam("id"))
_OWNER_AND_TERMS = select(_APP.c.owner_org, _APP.c.terms_json).where(
    _APP.c.application_id == bindparam("id")
)


class ApplicationSummary(BaseModel):
    application_id: str
    stage: Stage
    stage_at: datetime
    submitted_at: datetime
    applicant_name: str
    applicant_country: str
    priority_area: str
    call_id: str
    facility_countries: list[str]
    voucher_id: str | None
    reasons: list[str]


class ApplicationListing(BaseModel):
    items: list[ApplicationSummary]
    total: int = Field(description="matching applications, all pages")
    offset: int
    limit: int


def record_submitted(session: Session, inp: ApplicationInput) -> None:
    """Listed from the moment the gateway accepted it, before the workflow's first event."""
    if session.get(ApplicationRow, inp.application_id) is None:
        session.add(
            ApplicationRow(
                application_id=inp.application_id,
                owner_org=inp.owner.org if inp.owner else None,
                stage=Stage.SUBMITTED,
                stage_at=inp.submitted_at,
                submitted_at=inp.submitted_at,
                applicant_name=inp.applicant.name,
                applicant_country=inp.applicant.country,  # of establishment, as in the events
                priority_area=inp.priority_area,
                call_id=inp.call_id,
            )
        )


def forget_submitted(session: Session, application_id: str) -> None:
    """The workflow never started: the row must not stay `submitted` forever."""
    row = session.get(ApplicationRow, application_id)
    if row is not None and row.stage == Stage.SUBMITTED:
        session.delete(row)


def on_stage_changed(session: Session, event: CloudEvent) -> Sequence[Outgoing]:
    """Keep the application's row at its newest stage. Core statements on a few columns: the
    gateway applies every stage event of every application, and the ORM's load and flush of
    the whole row were most of that work (bench/results/profile.json)."""
    change = event.decode(StageChanged)
    seen = session.execute(_SEEN, {"id": change.application_id}).first()
    values = {
        "sequence": change.sequence,
        "stage": change.stage,
        "stage_at": change.at,
        "facility_countries": "," + "".join(f"{c}," for c in change.facility_countries),
        "voucher_id": change.voucher_id,
        "reasons": "\n".join(change.reasons),
        "updated_at": utcnow(),
        **_terms_told(change, seen.terms_sha256 if seen is not None else None),
    }
    if seen is None:  # submitted through another gateway replica, or before this one existed
        values |= {
            "application_id": change.application_id,
            "submitted_at": change.at,
            "applicant_name": change.applicant_name,
            "applicant_country": change.applicant_country,
            "priority_area": change.priority_area,
            "call_id": change.call_id,
        }
        session.execute(insert(_APP), values)
        return []
    if seen.sequence >= change.sequence:
        return []
    if seen.stage != change.stage:
        left = (as_utc(change.at) - as_utc(seen.stage_at)).total_seconds()
        metrics.STAGE_DURATION.record(max(0.0, left), {"stage": seen.stage})
    session.execute(_NEWER, {"id": change.application_id, "newer_than": change.sequence, **values})
    return []


def _terms_told(change: StageChanged, kept_sha256: str | None) -> dict[str, str | None]:
    """Terms told in full are kept while later changes name the same hash; new terms, none, or
    an event that names no hash (a run from before) forget them."""
    if change.terms is not None and change.terms.sha256 == change.terms_sha256:
        return {"terms_sha256": change.terms.sha256, "terms_json": change.terms.model_dump_json()}
    if change.terms_sha256 is None or change.terms_sha256 != kept_sha256:
        return {"terms_sha256": None, "terms_json": None}
    return {}  # the same terms as before: left as they are


def offered_terms(session: Session, application_id: str) -> tuple[str | None, Terms | None]:
    """The application's owner and the terms on offer as last told; None for what this read
    model does not hold."""
    row = session.execute(_OWNER_AND_TERMS, {"id": application_id}).first()
    if row is None:
        return None, None
    terms = Terms.model_validate_json(row.terms_json) if row.terms_json is not None else None
    return row.owner_org, terms


def list_applications(
    session: Session,
    *,
    owner_org: str | None = None,
    stage: Sequence[str] = (),
    applicant_country: str | None = None,
    facility_country: str | None = None,
    call_id: str | None = None,
    priority_area: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> ApplicationListing:
    stmt = select(ApplicationRow)
    if owner_org is not None:
        stmt = stmt.where(col(ApplicationRow.owner_org) == owner_org)
    if stage:
        stmt = stmt.where(col(ApplicationRow.stage).in_(list(stage)))
    if applicant_country:
        stmt = stmt.where(col(ApplicationRow.applicant_country) == applicant_country)
    if facility_country:
        stmt = stmt.where(col(ApplicationRow.facility_countries).contains(f",{facility_country},"))
    if call_id:
        stmt = stmt.where(col(ApplicationRow.call_id) == call_id)
    if priority_area:
        stmt = stmt.where(col(ApplicationRow.priority_area) == priority_area)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = session.scalars(
        stmt.order_by(col(ApplicationRow.submitted_at).desc(), col(ApplicationRow.application_id))
        .offset(offset)
        .limit(limit)
    ).all()
    return ApplicationListing(
        items=[
            ApplicationSummary(
                application_id=r.application_id,
                stage=Stage(r.stage),
                stage_at=r.stage_at,
                submitted_at=r.submitted_at,
                applicant_name=r.applicant_name,
                applicant_country=r.applicant_country,
                priority_area=r.priority_area,
                call_id=r.call_id,
                facility_countries=[c for c in r.facility_countries.split(",") if c],
                voucher_id=r.voucher_id,
                reasons=r.reasons.splitlines(),
            )
            for r in page
        ],
        total=total,
        offset=offset,
        limit=limit,
    )


def owner_of(session: Session, application_id: str) -> str | None:
    """The organisation an application belongs to (None: unknown here, or pre-identities)."""
    owner: str | None = session.scalar(_OWNER, {"id": application_id})
    return owner


def applications_by_stage(session: Session) -> metrics.Reading:
    rows = session.execute(
        select(col(ApplicationRow.stage), col(ApplicationRow.call_id), func.count()).group_by(
            col(ApplicationRow.stage), col(ApplicationRow.call_id)
        )
    ).all()
    return [(float(n), {"stage": stage, "call": call}) for stage, call, n in rows]


def make_runtime(settings: Settings) -> ServiceRuntime:
    """The consumer that keeps the read model; the HTTP side says when the gateway is ready."""
    runtime = ServiceRuntime(
        dataclasses.replace(settings, ready_file=None), migrations="loket_gateway"
    )
    runtime.handle(APPLICATION_EVENTS, STAGE_CHANGED, on_stage_changed)
    metrics.observe(
        runtime.engine,
        "loket.applications",
        "{application}",
        "Applications by stage and call",
        applications_by_stage,
    )
    return runtime
