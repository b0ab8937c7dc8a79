"""Decisions on an application, by the person who may take them: the owning organisation's
applicant accepts, declines, reports and withdraws; a programme manager may cancel too. The
gateway seals each decision with who took it; the workflow checks the seal."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from loket_contracts.application import (
    UPDATE_ACCEPT_TERMS,
    UPDATE_CANCEL,
    UPDATE_DECLINE_TERMS,
    UPDATE_SUBMIT_REPORT,
    AccessReport,
    ApplicationStatus,
    Cancellation,
    TermsDecision,
)
from pydantic import BaseModel

from loket_gateway import problems, temporal_ops
from loket_gateway.auth import APPLICANT, MANAGER, actor, caller, ensure_owner
from loket_gateway.identity import Principal
from loket_gateway.routes.applications import AppId, Owner_
from loket_gateway.state import ClientDep, StateDep

router = APIRouter(
    tags=["applications"],
    dependencies=[Depends(caller(APPLICANT, MANAGER))],
    responses=problems.responses(401, 403, 429),
)


async def _decide(
    state: StateDep,
    temporal: ClientDep,
    who: Principal,
    application_id: str,
    update: str,
    decision: BaseModel,
) -> ApplicationStatus:
    await ensure_owner(state, who, application_id)
    handle = temporal.get_workflow_handle(application_id)
    return await temporal_ops.update(handle, update, decision, actor(who))


@router.post(
    "/v1/applications/{application_id}/accept",
    responses=problems.responses(404, 409),
    response_model=ApplicationStatus,
)
async def accept(
    application_id: AppId,
    decision: TermsDecision,
    request: Request,
    state: StateDep,
    temporal: ClientDep,
    who: Owner_,
) -> ApplicationStatus:
    """Accept the agreement whose SHA-256 you read; the acceptance is recorded with who (as
    authenticated), when, which version and language, and this request's metadata."""
    witnessed = temporal_ops.witnessed(decision, request)
    return await _decide(state, temporal, who, application_id, UPDATE_ACCEPT_TERMS, witnessed)


@router.post(
    "/v1/applications/{application_id}/decline",
    responses=problems.responses(404, 409),
    response_model=ApplicationStatus,
)
async def decline(
    application_id: AppId,
    decision: TermsDecision,
    request: Request,
    state: StateDep,
    temporal: ClientDep,
    who: Owner_,
) -> ApplicationStatus:
    witnessed = temporal_ops.witnessed(decision, request)
    return await _decide(state, temporal, who, application_id, UPDATE_DECLINE_TERMS, witnessed)


@router.post(
    "/v1/applications/{application_id}/cancel",
    responses=problems.responses(404, 409),
    response_model=ApplicationStatus,
)
async def cancel(
    application_id: AppId,
    cancellation: Cancellation,
    state: StateDep,
    temporal: ClientDep,
    who: Annotated[Principal, Depends(caller(APPLICANT, MANAGER))],
) -> ApplicationStatus:
    """The applicant withdraws, or a programme manager cancels, at any stage until the voucher
    is closed. What the stage holds is given back: slot holds, aid headroom and budget; after
    issuance the unused units and voucher value."""
    return await _decide(state, temporal, who, application_id, UPDATE_CANCEL, cancellation)


@router.post(
    "/v1/applications/{application_id}/report",
    responses=problems.responses(404, 409),
    response_model=ApplicationStatus,
)
async def report(
    application_id: AppId,
    access_report: AccessReport,
    state: StateDep,
    temporal: ClientDep,
    who: Owner_,
) -> ApplicationStatus:
    """The applicant's access report, due after the last delivery; it closes the file."""
    body = access_report.model_copy(update={"submitted_at": None})
    return await _decide(state, temporal, who, application_id, UPDATE_SUBMIT_REPORT, body)
