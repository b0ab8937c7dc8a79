"""A batch call's application: it waits at `awaiting_round` until the call's round answers
(not before, however long), is told when the round runs, and a cancellation while it waits
takes it out of the round. The round workflow asks once per round id and returns the
round's figures. Time-skipping test server; fake services as in application/."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest
from loket_contracts import messages as m
from loket_contracts.application import (
    SIGNAL_SERVICE_EVENT,
    TASK_QUEUE,
    ApplicationInput,
    Cancellation,
    ServiceEvent,
    Stage,
)
from loket_contracts.calls import RoundInput
from loket_workflows.application.dto import SendCommand, SendCommands
from loket_workflows.application.v1 import ApplicationWorkflow
from loket_workflows.application.workflow import ApplicationV3
from loket_workflows.round.workflow import AllocationRound
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.unit.workflows.fake_services import FakeServices, Under
from tests.unit.workflows.harness import (
    accept_current_terms,
    application,
    run_with,
    wait_for_stage,
)


async def batch_application(env: WorkflowEnvironment) -> ApplicationInput:
    """The call closes in three days by the test server's clock, which runs on (a run that
    ended skipped months): a fixed date could already be past and there would be no wait."""
    cut_off = await env.get_current_time() + timedelta(days=3)
    return application().model_copy(update={"batch_round_at": cut_off})


@pytest.fixture(params=[True, False], ids=["answers-in-send", "signalled"])
def answers_in_send(request: pytest.FixtureRequest) -> Iterator[bool]:
    """New applications' type (the application tests leave the last type they ran set),
    its answers brought back by the send or signalled."""
    before = Under.workflow, Under.answers_in_send
    Under.workflow, Under.answers_in_send = ApplicationV3, request.param
    try:
        yield request.param
    finally:
        Under.workflow, Under.answers_in_send = before


@pytest.mark.usefixtures("answers_in_send")
async def test_the_application_waits_for_the_round_then_goes_on(env: WorkflowEnvironment) -> None:
    services = FakeServices(env.client, pause_on=m.HOLD_REQUESTED)  # answered by the round

    async def at_the_round(handle) -> None:
        await wait_for_stage(handle, Stage.AWAITING_ROUND)
        # Shown as waiting for the round: its hold is with the allocation service already,
        # so a manager who closes the call now has it in the round.
        assert m.HOLD_REQUESTED in services.commands
        await env.sleep(3600)  # an hour passes: still waiting, nothing sent again
        status = await handle.query(ApplicationWorkflow.status)
        assert status.stage == Stage.AWAITING_ROUND
        assert services.commands == [m.ELIGIBILITY_REQUESTED, m.HOLD_REQUESTED]
        assert "awaiting_round" in services.notices and services.resent == []
        await services.resume()  # the round served it
        await accept_current_terms(handle)

    status = await run_with(env, services, await batch_application(env), at_the_round)
    assert status.voucher_id == "V-1"
    assert [s.stage for s in status.history][:4] == [
        Stage.SUBMITTED,
        Stage.ELIGIBILITY,
        Stage.ALLOCATION,
        Stage.AWAITING_ROUND,
    ]


@pytest.mark.usefixtures("answers_in_send")
async def test_cancelled_while_waiting_leaves_the_round(env: WorkflowEnvironment) -> None:
    services = FakeServices(env.client, pause_on=m.HOLD_REQUESTED)

    async def cancel(handle) -> None:
        await wait_for_stage(handle, Stage.AWAITING_ROUND)
        await handle.execute_update(
            ApplicationWorkflow.cancel, Cancellation(reason="found another lab", by="applicant")
        )

    status = await run_with(env, services, await batch_application(env), cancel)
    assert status.stage == Stage.CANCELLED
    assert m.RELEASE_REQUESTED in services.commands  # allocation withdraws it from the round
    assert "hold" not in services.held


class FakeAllocation:
    """Answers RoundRequested as the allocation service would, once per event id."""

    def __init__(self, client) -> None:
        self.client = client
        self.asked: list[m.RoundRequested] = []

    @activity.defn(name="send_commands")
    async def send_commands(self, batch: SendCommands) -> None:
        for cmd in batch.commands:
            await self._answer(cmd)

    async def _answer(self, cmd: SendCommand) -> None:
        asked = m.RoundRequested.model_validate_json(cmd.body_json)
        self.asked.append(asked)
        solved = m.RoundSolved(
            round_id=asked.round_id,
            call_id=asked.call_id,
            served=["app-1"],
            unserved=["app-2"],
            objective=1,
            lp_bound=1.5,
            gap=1 / 3,
            status="optimal",
            solve_seconds=0.01,
            requested_by_country={"AT": 1, "DE": 1},
            served_by_country={"AT": 1},
        )
        event = ServiceEvent(event_id=f"{cmd.event_id}/reply", type=m.ROUND_SOLVED, data="")
        event.data = solved.model_dump_json()
        await self.client.get_workflow_handle(cmd.correlation_id).signal(
            SIGNAL_SERVICE_EVENT, event
        )


async def test_the_round_workflow_asks_for_its_call_and_returns_the_figures(
    env: WorkflowEnvironment,
) -> None:
    allocation = FakeAllocation(env.client)
    async with Worker(
        env.client,
        task_queue=TASK_QUEUE,
        workflows=[AllocationRound],
        activities=[allocation.send_commands],
    ):
        solved = await asyncio.wait_for(
            env.client.execute_workflow(
                AllocationRound.run,
                RoundInput(call_id="BATCH-1", country_share_cap=0.5),
                id="round-BATCH-1-2027-03-04T00:00:00Z",
                task_queue=TASK_QUEUE,
            ),
            300,
        )
    [asked] = allocation.asked
    assert (asked.call_id, asked.round_id) == ("BATCH-1", "round-BATCH-1-2027-03-04T00:00:00Z")
    assert asked.country_share_cap == 0.5 and asked.entries == []
    assert solved.served == ["app-1"] and solved.gap == 1 / 3
