"""The programme's own view: managers decide reviews; managers and auditors read budgets,
utilisation, the de minimis register, the audit trail and decoded Temporal payloads."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query
from google.protobuf import json_format
from loket_contracts import messages as m
from loket_contracts.application import UPDATE_REVIEW, ApplicationStatus, ManagerDecision
from loket_contracts.bounds import ID_MAX, INT64_MAX
from loket_contracts.topics import ALLOCATION_QUERIES
from loket_messaging.payload_codec import MissingKey
from temporalio.api.common.v1 import Payloads

from loket_gateway import audit, history, problems, service_queries, temporal_ops
from loket_gateway.auth import MANAGER, PROGRAMME, actor, caller
from loket_gateway.identity import Principal
from loket_gateway.problems import Problem
from loket_gateway.state import ClientDep, StateDep

Offset = Annotated[int, Query(ge=0, le=INT64_MAX)]

router = APIRouter(
    tags=["programme"],
    dependencies=[Depends(caller(*PROGRAMME))],
    responses=problems.responses(401, 403, 429),
)


@router.post(
    "/v1/applications/{application_id}/review",
    response_model=ApplicationStatus,
    responses=problems.responses(404, 409),
)
async def review(
    application_id: Annotated[str, Path(min_length=1, max_length=ID_MAX)],
    decision: ManagerDecision,
    temporal: ClientDep,
    who: Annotated[Principal, Depends(caller(MANAGER))],
) -> ApplicationStatus:
    """A programme manager approves or rejects an application in manual review; the decision
    records the manager as authenticated."""
    handle = temporal.get_workflow_handle(application_id)
    return await temporal_ops.update(handle, UPDATE_REVIEW, decision, actor(who))


@router.get("/v1/utilisation", response_model=m.UtilisationReply)
async def utilisation(
    state: StateDep, offset: Offset = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 500
) -> m.UtilisationReply:
    """Per facility (a page at a time) and per country: published, held and booked units;
    cross-border flows."""
    return await service_queries.ask(
        state,
        m.UTILISATION_QUERY,
        m.UtilisationQuery(offset=offset, limit=limit),
        m.UTILISATION_REPLY,
        m.UtilisationReply,
        ALLOCATION_QUERIES,
    )


@router.get(
    "/v1/calls/{call_id}/budget",
    responses=problems.responses(404),
    response_model=m.BudgetReply,
)
async def call_budget(
    call_id: Annotated[str, Path(min_length=1, max_length=64)], state: StateDep
) -> m.BudgetReply:
    """Per priority area: total, reserved, granted and available."""
    reply = await service_queries.ask(
        state, m.BUDGET_QUERY, m.BudgetQuery(call_id=call_id), m.BUDGET_REPLY, m.BudgetReply
    )
    if not reply.areas:
        raise Problem(404, "call-not-found", "No such call", f"no budget for {call_id}")
    return reply


@router.get(
    "/v1/registers/de_minimis",
    response_model=m.RegisterReply,
    responses={200: {"content": {"text/csv": {}}}},
)
async def de_minimis_register(
    state: StateDep,
    format: Literal["json", "csv"] = "json",
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> Any:
    """Every de minimis grant, by undertaking: for managers and auditors."""
    return await service_queries.register(state, "de_minimis", format, offset, limit)


@router.get(
    "/v1/registers/aid",
    response_model=m.RegisterReply,
    responses={200: {"content": {"text/csv": {}}}},
)
async def aid_register(
    state: StateDep,
    format: Literal["json", "csv"] = "json",
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> Any:
    """Every grant of the scheme, of every instrument (no aid, de minimis, GBER Art. 28):
    for managers and auditors."""
    return await service_queries.register(state, "aid", format, offset, limit)


@router.get("/v1/history/{kind}", response_model=list[history.HistoryPoint])
async def programme_history(
    kind: history.Kind,
    state: StateDep,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 2000,
) -> list[history.HistoryPoint]:
    """Budgets per call and area, or capacity per facility country, as they stood at each
    snapshot (every LOKET_SNAPSHOT_S): the newest `limit` points since `since`, oldest first."""
    return await asyncio.to_thread(history.series, state, kind, since, limit)


@router.get("/v1/audit", response_model=audit.AuditPage)
async def audit_trail(
    state: StateDep,
    application_id: Annotated[str | None, Query(max_length=ID_MAX)] = None,
    subject: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=80)] = None,
    since: datetime | None = None,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> audit.AuditPage:
    """Every state-changing request, oldest first: who, when, what, on which application, and
    the status it got."""

    return await state.read(
        lambda session: audit.query(
            session,
            application_id=application_id,
            subject=subject,
            action=action,
            since=since,
            offset=offset,
            limit=limit,
        )
    )


@router.post("/codec/decode", tags=["codec"])
async def codec_decode(
    payloads: Annotated[dict[str, Any], Body(examples=[{"payloads": []}])], state: StateDep
) -> dict[str, Any]:
    """Temporal's remote codec protocol: the Temporal UI and CLI (`--codec-endpoint`, with
    `--codec-auth "Bearer <token>"`) show decrypted payloads to managers and auditors."""
    try:
        parsed = json_format.ParseDict(payloads, Payloads(), ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise Problem(422, "not-payloads", "Not Temporal payloads", str(exc)[:500]) from exc
    assert state.codec is not None  # the converter always has the encryption codec
    try:
        decoded = await state.codec.decode(list(parsed.payloads))
    except (MissingKey, ValueError) as exc:
        raise Problem(422, "undecodable", "Cannot decode these payloads", str(exc)[:500]) from exc
    return json_format.MessageToDict(Payloads(payloads=decoded))
