"""Applications as their owners see them: an applicant acts for its organisation and sees
only that organisation's applications; managers and auditors read every application."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from loket_contracts import messages as m
from loket_contracts.application import (
    QUERY_STATUS,
    QUERY_TERMS,
    ApplicationInput,
    ApplicationStatus,
    Owner,
    Stage,
    Terms,
)
from loket_contracts.bounds import ID_MAX, INT64_MAX
from loket_contracts.calls import Call
from loket_contracts.capacity import PriorityArea
from loket_contracts.scheme import scheme_in_force
from loket_contracts.submission import ApplicationAccepted, ApplicationRequest
from loket_contracts.topics import CHARTER_QUERIES
from loket_messaging.db import read_only
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from loket_gateway import calls, problems, service_queries, temporal_ops
from loket_gateway.auth import APPLICANT, PROGRAMME, caller, check_owner, ensure_owner
from loket_gateway.identity import Principal
from loket_gateway.listings import ApplicationListing, list_applications, offered_terms
from loket_gateway.problems import Problem
from loket_gateway.state import ClientDep, State, StateDep

AppId = Annotated[str, Path(min_length=1, max_length=ID_MAX)]
Reader = Annotated[Principal, Depends(caller(APPLICANT, *PROGRAMME))]
Owner_ = Annotated[Principal, Depends(caller(APPLICANT))]

router = APIRouter(
    tags=["applications"],
    dependencies=[Depends(caller(APPLICANT, *PROGRAMME))],
    responses=problems.responses(401, 403, 429),
)


@router.post(
    "/v1/applications",
    status_code=202,
    response_model=ApplicationAccepted,
    responses=problems.responses(404),
)
async def submit(
    req: ApplicationRequest,
    request: Request,
    response: Response,
    state: StateDep,
    temporal: ClientDep,
    who: Owner_,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> ApplicationAccepted:
    """Apply for an organisation: the applicant's own (its token's `org` is the undertaking id),
    so no one can spend another undertaking's de minimis headroom."""
    if who.org is None or req.applicant.undertaking_id != who.org:
        raise Problem(
            403,
            "not-your-organisation",
            "You apply for your own organisation only",
            f"applicant.undertaking_id must be {who.org!r}, the organisation you belong to",
        )
    call = await asyncio.to_thread(open_call, state, req.call_id)
    request_hash = hashlib.sha256(req.model_dump_json().encode()).hexdigest()
    inp = ApplicationInput(
        application_id=f"app-{uuid.uuid4().hex[:16]}",
        owner=Owner(org=who.org, subject=who.subject, name=who.name[:200]),
        applicant=req.applicant,
        priority_area=req.priority_area,
        call_id=req.call_id,
        needs=req.needs,
        applicant_payment_eur=req.applicant_payment_eur,
        language=req.language,
        acceptance_window_seconds=state.acceptance_window_s,
        review_escalation_seconds=state.review_escalation_s,
        hold_ttl_seconds=state.hold_ttl_s,
        voucher_validity_seconds=state.voucher_validity_s,
        access_report_seconds=state.access_report_s,
        resend_after_seconds=state.resend_after_s,
        stuck_notice_seconds=state.stuck_notice_s,
        submitted_at=datetime.now(UTC),
        scheme_version=scheme_in_force(datetime.now(UTC).date()).version,
        batch_round_at=call.closes_at if call.mode == "batch" else None,
    )
    if idempotency_key is not None:
        inp = await asyncio.to_thread(
            temporal_ops.remember, state, idempotency_key, who.org, request_hash, inp
        )
    request.state.application_id = inp.application_id  # for the audit trail
    await asyncio.to_thread(temporal_ops.list_submitted, state, inp)
    try:
        await temporal_ops.start(temporal, inp)
    except WorkflowAlreadyStartedError:
        pass  # a retry with the same Idempotency-Key: the application already runs
    except BaseException:
        # Perhaps nothing started: no listing row for it (the workflow's first stage event
        # lists it again if it did start). The Idempotency-Key stays bound to this very
        # application, so a retry with it starts the same application, never a second.
        await asyncio.to_thread(temporal_ops.unlist, state, inp.application_id)
        raise
    response.headers["Location"] = f"/v1/applications/{inp.application_id}"
    return ApplicationAccepted(
        application_id=inp.application_id,
        stage="submitted",
        links={
            "self": f"/v1/applications/{inp.application_id}",
            "terms": f"/v1/applications/{inp.application_id}/terms",
        },
    )


def open_call(state: State, call_id: str) -> Call:
    """The call applied to, open now; else a 422 that names the calls open now."""
    now = datetime.now(UTC)
    with read_only(state.engine) as session:
        found = calls.find(session, call_id)
        if found is not None and found.open_at(now):
            return found
        every = calls.all_calls(session)  # only to name the open ones in the refusal
    open_now = ", ".join(c.call_id for c in every if c.open_at(now)) or "none"
    if found is None:
        raise Problem(
            422, "unknown-call", "No such call", f"no call {call_id!r}; open calls: {open_now}"
        )
    raise Problem(
        422,
        "call-not-open",
        "The call is not open",
        f"call {call_id!r} takes no applications: it is {_when(found, now)}; "
        f"open calls: {open_now}",
    )


def _when(call: Call, now: datetime) -> str:
    if call.status == "closed" or (call.closes_at is not None and call.closes_at <= now):
        return "closed"
    return f"not open until {call.opens_at:%Y-%m-%d %H:%M} UTC"


@router.get("/v1/applications", response_model=ApplicationListing)
async def listing(
    state: StateDep,
    who: Reader,
    # No more than there are stages: a longer list must repeat one, and each costs a bound.
    stage: Annotated[list[Stage] | None, Query(max_length=len(Stage))] = None,
    applicant_country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    facility_country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    call_id: Annotated[str | None, Query(max_length=64)] = None,
    priority_area: PriorityArea | None = None,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ApplicationListing:
    """Applications, newest first (an applicant's: its organisation's only), filtered by
    stage (repeatable), country of the applicant or of any facility in the bundle, call and
    priority area. From the gateway's read model: a stage change shows here within moments."""
    sees_all = bool(who.roles & set(PROGRAMME))
    return await state.read(
        lambda session: list_applications(
            session,
            owner_org=None if sees_all else (who.org or "\0"),
            stage=[str(s) for s in stage or ()],
            applicant_country=applicant_country,
            facility_country=facility_country,
            call_id=call_id,
            priority_area=priority_area,
            offset=offset,
            limit=limit,
        )
    )


@router.get(
    "/v1/applications/{application_id}",
    responses=problems.responses(404, 503),
    response_model=ApplicationStatus,
)
async def status(
    application_id: AppId, state: StateDep, temporal: ClientDep, who: Reader
) -> ApplicationStatus:
    await ensure_owner(state, who, application_id)
    handle = temporal.get_workflow_handle(application_id)
    found: ApplicationStatus = await temporal_ops.query(handle, QUERY_STATUS, ApplicationStatus)
    return found


@router.get(
    "/v1/applications/{application_id}/request",
    responses=problems.responses(404),
    response_model=ApplicationRequest,
)
async def submitted_request(
    application_id: AppId, state: StateDep, temporal: ClientDep, who: Reader
) -> ApplicationRequest:
    """The body the application was submitted with, to apply again with it (`loket apply
    --from APP`) or to read what was asked for."""
    await ensure_owner(state, who, application_id)
    inp = await temporal_ops.submitted(temporal, application_id)
    return ApplicationRequest.model_construct(
        applicant=inp.applicant,
        priority_area=inp.priority_area,
        call_id=inp.call_id,
        needs=inp.needs,
        applicant_payment_eur=inp.applicant_payment_eur,
        language=inp.language,
    )


async def _offered(state: State, temporal: Client, who: Principal, application_id: str) -> Terms:
    """The terms on offer (or accepted) to an owner or reader: as the stage events told the
    read model (read with the owner, in one snapshot), else as the workflow holds them (the
    read model behind, or a run from before); 409 while none."""
    owner, found = await state.read(lambda session: offered_terms(session, application_id))
    check_owner(who, owner, application_id)
    if found is not None:
        return found
    handle = temporal.get_workflow_handle(application_id)
    found = await temporal_ops.query(handle, QUERY_TERMS, Terms)
    if found is None:
        current = await temporal_ops.query(handle, QUERY_STATUS, ApplicationStatus)
        raise Problem(
            409,
            "terms-not-ready",
            "Terms are not ready",
            f"application {application_id} is in stage {current.stage}",
            stage=current.stage,
        )
    return found


@router.get(
    "/v1/applications/{application_id}/terms",
    responses=problems.responses(404, 409, 503),
    response_model=Terms,
)
async def terms(application_id: AppId, state: StateDep, temporal: ClientDep, who: Reader) -> Terms:
    found = await _offered(state, temporal, who, application_id)
    # Where the charter service keeps its files is its own business: readers get links here.
    base = f"/v1/applications/{application_id}/agreement"
    links = {fmt: f"{base}?format={fmt}" for fmt in ("pdf", "html", "md")}
    return found.model_copy(update={"documents": links})


@router.get(
    "/v1/applications/{application_id}/agreement",
    responses={
        200: {"content": {"application/pdf": {}, "text/html": {}, "text/markdown": {}}},
        **problems.responses(404, 409, 503),
    },
    response_class=Response,
)
async def agreement(
    application_id: AppId,
    state: StateDep,
    temporal: ClientDep,
    who: Reader,
    format: Literal["pdf", "html", "md"] = "pdf",
) -> Response:
    """The agreement offered (or accepted) as a file: PDF, HTML or Markdown, the exact text
    whose SHA-256 the applicant accepts."""
    sha = (await _offered(state, temporal, who, application_id)).sha256
    q = m.DocumentQuery(application_id=application_id, sha256=sha, format=format)
    found = await service_queries.ask(
        state, m.DOCUMENT_QUERY, q, m.DOCUMENT_REPLY, m.DocumentReply, CHARTER_QUERIES
    )
    if not found.found or found.content_b64 is None:
        raise Problem(404, "agreement-not-found", "No such agreement", f"no agreement {sha[:16]}…")
    return Response(
        base64.b64decode(found.content_b64),
        media_type=found.media_type,
        headers={
            "Content-Disposition": f'inline; filename="agreement-{sha[:16]}.{format}"',
            "X-Content-SHA256-Of-Text": sha,
        },
    )
