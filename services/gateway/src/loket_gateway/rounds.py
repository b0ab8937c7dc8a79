"""A batch call's allocation round in Temporal: one schedule per call, firing once at the
cut-off and starting the `AllocationRound` workflow; what the round found, for the programme.

A schedule, not a sleeping workflow: the cut-off stays visible and changeable in Temporal's
UI, and a Temporal that was down at the cut-off catches up when it returns.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from loket_contracts import messages as m
from loket_contracts.application import SA_CALL, TASK_QUEUE
from loket_contracts.calls import (
    ROUND_SCHEDULE_PREFIX,
    ROUND_WORKFLOW,
    Call,
    RoundInput,
    RoundView,
)
from loket_messaging.db import unit_of_work
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowExecutionStatus,
)
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from loket_gateway import calls
from loket_gateway.state import State

CATCH_UP = timedelta(days=7)  # Temporal away at the cut-off: the round still runs on return


def schedule_id(call_id: str) -> str:
    return ROUND_SCHEDULE_PREFIX + call_id


def at_once(cut_off: datetime) -> ScheduleSpec:
    """A calendar that matches one second (UTC): the first whole second not before the cut-off
    (a round that fired in the cut-off's own second could run while the call is still open)."""
    moment = cut_off.astimezone(UTC)
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)

    def one(value: int) -> list[ScheduleRange]:
        return [ScheduleRange(value)]

    return ScheduleSpec(
        calendars=[
            ScheduleCalendarSpec(
                second=one(moment.second),
                minute=one(moment.minute),
                hour=one(moment.hour),
                day_of_month=one(moment.day),
                month=one(moment.month),
                year=one(moment.year),
            )
        ]
    )


def _schedule(call: Call, spec: ScheduleSpec) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ROUND_WORKFLOW,
            RoundInput(call_id=call.call_id, country_share_cap=call.country_share_cap),
            id=schedule_id(call.call_id),  # Temporal appends the scheduled time
            task_queue=TASK_QUEUE,
            typed_search_attributes=TypedSearchAttributes(
                [SearchAttributePair(SearchAttributeKey.for_keyword(SA_CALL), call.call_id)]
            ),
        ),
        spec=spec,
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCH_UP),
        state=ScheduleState(
            note=f"the allocation round of batch call {call.call_id}",
            limited_actions=True,
            remaining_actions=1,
        ),
    )


async def plan(client: Client, call: Call) -> None:
    """The round of a batch call at its cut-off; made again when the cut-off moves."""
    assert call.mode == "batch" and call.closes_at is not None
    schedule = _schedule(call, at_once(call.closes_at))
    try:
        await client.create_schedule(schedule_id(call.call_id), schedule)
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(schedule_id(call.call_id)).update(replace)


async def run_now(client: Client, call: Call) -> None:
    """A batch call closed before its cut-off: the round runs now, and not again later."""
    handle = client.get_schedule_handle(schedule_id(call.call_id))
    schedule = _schedule(call, ScheduleSpec())

    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=schedule)

    try:
        await handle.update(replace)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        await client.create_schedule(schedule_id(call.call_id), schedule)
    await handle.trigger()


async def view(client: Client, call: Call) -> RoundView:
    if call.mode != "batch":
        return RoundView(call_id=call.call_id, state="none")
    try:
        described = await client.get_schedule_handle(schedule_id(call.call_id)).describe()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        return RoundView(call_id=call.call_id, state="none")
    info = described.info
    if info.running_actions:
        started = info.running_actions[-1]
    elif info.recent_actions:
        started = info.recent_actions[-1].action
    else:
        upcoming = info.next_action_times[0] if info.next_action_times else call.closes_at
        return RoundView(call_id=call.call_id, state="scheduled", runs_at=upcoming)
    assert isinstance(started, ScheduleActionExecutionStartWorkflow)
    handle = client.get_workflow_handle(started.workflow_id, run_id=started.first_execution_run_id)
    status = (await handle.describe()).status
    if status == WorkflowExecutionStatus.RUNNING:
        return RoundView(call_id=call.call_id, state="running", round_id=started.workflow_id)
    if status != WorkflowExecutionStatus.COMPLETED:
        return RoundView(call_id=call.call_id, state="failed", round_id=started.workflow_id)
    solved = m.RoundSolved.model_validate(await handle.result())  # JSON, not typed here
    return RoundView(
        call_id=call.call_id,
        state="solved",
        round_id=solved.round_id,
        served=len(solved.served),
        unserved=len(solved.unserved),
        objective=solved.objective,
        lp_bound=solved.lp_bound,
        gap=solved.gap,
        status=solved.status,
        solve_seconds=solved.solve_seconds,
        requested_by_country=solved.requested_by_country,
        served_by_country=solved.served_by_country,
    )


async def start(state: State, client: Client) -> None:
    """At the gateway's start: the scheme's calls registered, and every open batch call's
    round planned again (a schedule Temporal did not take when the call was saved)."""

    def registered() -> list[Call]:
        with unit_of_work(state.engine) as session:
            calls.seed(session, state.scheme)
            return calls.all_calls(session)

    now = datetime.now(UTC)
    for call in await asyncio.to_thread(registered):
        if (
            call.mode == "batch"
            and call.status == "open"
            and call.closes_at
            and call.closes_at > now
        ):
            await plan(client, call)
