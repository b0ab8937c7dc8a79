"""Calls: anyone signed in reads them; programme managers open, amend and close them; every
change is a version, with who made it and why (and the audit trail's entry)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from loket_contracts import messages as m
from loket_contracts.bounds import NAME_MAX
from loket_contracts.calls import (
    Call,
    CallAmendment,
    CallClosing,
    CallHistory,
    CallList,
    CallSpec,
    RoundView,
)
from loket_messaging.db import unit_of_work
from sqlmodel import Session
from temporalio.service import RPCError

from loket_gateway import calls, problems, rounds, service_queries
from loket_gateway.auth import APPLICANT, MANAGER, PROGRAMME, caller
from loket_gateway.identity import Principal
from loket_gateway.problems import Problem
from loket_gateway.state import ClientDep, State, StateDep

CallIdPath = Annotated[str, Path(min_length=1, max_length=64)]
Manager = Annotated[Principal, Depends(caller(MANAGER))]
Programme = Annotated[Principal, Depends(caller(*PROGRAMME))]

router = APIRouter(
    tags=["calls"],
    dependencies=[Depends(caller(APPLICANT, *PROGRAMME))],
    responses=problems.responses(401, 403, 429),
)


@router.get("/v1/calls", response_model=CallList)
async def list_calls(state: StateDep) -> CallList:
    """Every call: open, upcoming and closed, with its mode and budgets."""
    return CallList(calls=await state.read(calls.all_calls))


@router.get("/v1/calls/{call_id}", response_model=Call, responses=problems.responses(404))
async def get_call(call_id: CallIdPath, state: StateDep) -> Call:
    return await state.read(lambda session: calls.get(session, call_id))


@router.get(
    "/v1/calls/{call_id}/versions",
    response_model=CallHistory,
    responses=problems.responses(404),
)
async def call_versions(call_id: CallIdPath, state: StateDep, who: Programme) -> CallHistory:
    """Every version of the call: what changed, who changed it, when and why."""

    def read(session: Session) -> CallHistory:
        calls.get(session, call_id)
        return CallHistory(call_id=call_id, versions=calls.versions(session, call_id))

    return await state.read(read)


@router.post(
    "/v1/calls", status_code=201, response_model=Call, responses=problems.responses(409, 503)
)
async def open_call(
    spec: CallSpec, response: Response, state: StateDep, temporal: ClientDep, who: Manager
) -> Call:
    """Open a call. A batch call's round is scheduled in Temporal at its cut-off."""
    now = datetime.now(UTC)
    if spec.closes_at is not None and spec.closes_at <= now:
        raise Problem(422, "closes-in-the-past", "Closing time in the past", "closes_at < now")
    call = calls.opened(spec, _named(who), now)
    await _save(state, call, "opened")
    response.headers["Location"] = f"/v1/calls/{call.call_id}"
    await _plan_round(temporal, call)
    return call


@router.patch(
    "/v1/calls/{call_id}", response_model=Call, responses=problems.responses(404, 409, 503)
)
async def amend_call(
    call_id: CallIdPath, change: CallAmendment, state: StateDep, temporal: ClientDep, who: Manager
) -> Call:
    """Amend a call from the version read (`version`): title, dates, budgets per area. A
    budget never drops below what the call has already reserved and granted."""
    current = await state.read(lambda session: calls.get(session, call_id))
    call = calls.amended(current, change, _named(who), datetime.now(UTC))
    if change.budgets:
        await _committed_within(state, call)
    await _save(state, call, change.reason)
    if call.mode == "batch" and call.closes_at != current.closes_at:
        await _plan_round(temporal, call)
    return call


@router.post(
    "/v1/calls/{call_id}/close",
    response_model=Call,
    responses=problems.responses(404, 409, 503),
)
async def close_call(
    call_id: CallIdPath, closing: CallClosing, state: StateDep, temporal: ClientDep, who: Manager
) -> Call:
    """Close a call now: no new applications. A batch call's round runs now if its cut-off
    had not come yet."""
    now = datetime.now(UTC)
    current = await state.read(lambda session: calls.get(session, call_id))
    call = calls.closed(current, closing, _named(who), now)
    await _save(state, call, closing.reason)
    if call.mode == "batch" and current.closes_at is not None and current.closes_at > now:
        try:
            await rounds.run_now(temporal, call)
        except RPCError as exc:
            raise _unscheduled(call, exc) from exc
    return call


@router.get(
    "/v1/calls/{call_id}/round", response_model=RoundView, responses=problems.responses(404)
)
async def call_round(
    call_id: CallIdPath, state: StateDep, temporal: ClientDep, who: Programme
) -> RoundView:
    """A batch call's allocation round: when it runs, or what it found (served, LP bound,
    gap, and per applicant country how many asked and how many were served)."""
    call = await state.read(lambda session: calls.get(session, call_id))
    return await rounds.view(temporal, call)


def _named(who: Principal) -> str:
    """Who changed the call, as the version records it (bounded like the column)."""
    return (who.name or who.subject)[:NAME_MAX]


async def _save(state: State, call: Call, reason: str) -> None:
    def save() -> None:
        with unit_of_work(state.engine) as session:
            calls.save(session, call, reason)

    await asyncio.to_thread(save)
    state.listings.publish_soon()  # CallChanged, through the outbox


async def _plan_round(temporal: ClientDep, call: Call) -> None:
    if call.mode != "batch" or call.status != "open":
        return
    try:
        await rounds.plan(temporal, call)
    except RPCError as exc:
        raise _unscheduled(call, exc) from exc


def _unscheduled(call: Call, exc: RPCError) -> Problem:
    return Problem(
        503,
        "round-not-scheduled",
        "The call is saved; its round is not scheduled yet",
        f"{call.call_id} version {call.version} is saved, but Temporal did not take its "
        f"round ({exc.status.name}); the gateway schedules it again when it starts",
    )


async def _committed_within(state: State, call: Call) -> None:
    reply = await service_queries.ask(
        state, m.BUDGET_QUERY, m.BudgetQuery(call_id=call.call_id), m.BUDGET_REPLY, m.BudgetReply
    )
    for area in reply.areas:
        committed = area.reserved_eur + area.granted_eur
        new = call.budgets.get(area.priority_area)  # type: ignore[call-overload]
        if new is not None and new < committed:
            raise Problem(
                409,
                "budget-below-committed",
                "Budget below what is committed",
                f"{area.priority_area}: {committed} EUR is already reserved or granted; the "
                f"budget cannot drop to {new} EUR",
            )
