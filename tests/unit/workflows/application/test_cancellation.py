"""Cancelling at every stage gives back everything held, and a release never answered ends the
application failed, with a manager told."""

from __future__ import annotations

import asyncio

import pytest
from loket_contracts import messages as m
from loket_contracts.application import (
    TASK_QUEUE,
    Cancellation,
    ServiceEvent,
    Stage,
    TermsDecision,
)
from loket_workflows.application.dto import SendCommand
from loket_workflows.application.v1 import ApplicationWorkflow
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.unit.workflows.fake_services import FakeServices, Under
from tests.unit.workflows.harness import (
    accept_current_terms,
    application,
    run_with,
    wait_for_stage,
    wait_for_terms,
)
from tests.unit.workflows.replies import TERMS_SHA
from tests.unit.workflows.sealing import (
    MANAGER,
    acting,
)


class SilentAllocation(FakeServices):
    """Allocation never answers the hold: the application waits there."""

    async def _take(self, cmd: SendCommand, hand_back: bool) -> ServiceEvent | None:
        if cmd.type == m.HOLD_REQUESTED:
            self.sent.append(cmd.type)
            return None
        return await super()._take(cmd, hand_back)


async def test_cancel_while_the_hold_is_on_its_way_still_releases_it(
    env: WorkflowEnvironment,
) -> None:
    services = SilentAllocation(env.client)

    async def cancel(handle) -> None:
        for _ in range(200):
            if (await handle.query(ApplicationWorkflow.status)).stage == Stage.ALLOCATION:
                break
            await asyncio.sleep(0.02)
        await handle.execute_update(
            ApplicationWorkflow.cancel, Cancellation(reason="found another lab", by="applicant")
        )

    status = await run_with(env, services, application(), cancel)
    assert status.stage == Stage.CANCELLED
    assert "found another lab" in status.reasons[0]
    # the compensation was registered before the hold was asked for
    assert services.sent.index(m.RELEASE_REQUESTED) > services.sent.index(m.HOLD_REQUESTED)


async def test_cancel_while_awaiting_acceptance_gives_everything_back(
    env: WorkflowEnvironment,
) -> None:
    services = FakeServices(env.client)

    async def cancel(handle) -> None:
        await wait_for_terms(handle)
        await handle.execute_update(
            ApplicationWorkflow.cancel, Cancellation(reason="changed plans")
        )

    status = await run_with(env, services, application(), cancel)
    assert status.stage == Stage.CANCELLED
    assert {m.RELEASE_REQUESTED, m.RESERVATION_RELEASE_REQUESTED} <= set(services.sent)
    assert m.ISSUE_REQUESTED not in services.sent


async def test_a_finished_application_cannot_be_cancelled(env: WorkflowEnvironment) -> None:
    services = FakeServices(env.client, eligible=False)
    inp = application()
    async with Worker(
        env.client,
        task_queue=TASK_QUEUE,
        workflows=[Under.workflow],
        activities=[services.send_command, services.send_commands],
    ):
        handle = await env.client.start_workflow(
            Under.workflow.run, inp, id=inp.application_id, task_queue=TASK_QUEUE
        )
        assert (await handle.result()).stage == Stage.INELIGIBLE
        with pytest.raises((RPCError, WorkflowUpdateFailedError)):  # server-dependent wording
            await handle.execute_update(ApplicationWorkflow.cancel, Cancellation(reason="x"))


CANCEL_POINTS = [
    # (stage to cancel in, the command whose answer is late there, accept terms first?)
    (Stage.ELIGIBILITY, m.ELIGIBILITY_REQUESTED, False),
    (Stage.ALLOCATION, m.HOLD_REQUESTED, False),
    (Stage.SCREENING, m.SCREENING_REQUESTED, False),
    (Stage.TERMS, m.TERMS_REQUESTED, False),
    (Stage.AWAITING_ACCEPTANCE, None, False),
    (Stage.ISSUING, m.ISSUE_REQUESTED, True),
    (Stage.ISSUING, m.CONFIRM_REQUESTED, True),  # before the booking exists
    (Stage.VOUCHER_ISSUED, None, True),
]
CANCEL_IDS = [f"{c[0]}-{c[1].split('.')[-3] if c[1] else 'waiting'}" for c in CANCEL_POINTS]


@pytest.mark.parametrize(("stage", "late", "accept"), CANCEL_POINTS, ids=CANCEL_IDS)
async def test_cancellation_at_every_stage_leaves_nothing_held(
    env: WorkflowEnvironment, stage: Stage, late: str | None, accept: bool
) -> None:
    services = FakeServices(env.client, pause_on=late)

    async def cancel(handle) -> None:
        if accept:
            await accept_current_terms(handle)
        await wait_for_stage(handle, stage)
        with acting(MANAGER):
            await handle.execute_update(
                ApplicationWorkflow.cancel, Cancellation(reason="project stopped")
            )
        if stage == Stage.ISSUING:  # issuance runs to its end: it needs the late answer
            await services.resume()
        # Elsewhere the late answer comes after the end (the bridge drops it). Sent while the
        # run completes, it trips the time-skipping test server's CancelTimer bug
        # (temporalio/sdk-java#3088): the task hangs there; a real server retries it.

    status = await run_with(env, services, application(), cancel)
    assert status.stage == Stage.CANCELLED
    assert status.reasons == ["cancelled by M. Manager: project stopped"]
    assert services.held == set(), f"left behind after cancelling in {stage}"


async def test_cancel_in_manual_review_ends_it(env: WorkflowEnvironment) -> None:
    services = FakeServices(env.client, eligible=None)

    async def cancel(handle) -> None:
        await wait_for_stage(handle, Stage.MANUAL_REVIEW)
        await handle.execute_update(ApplicationWorkflow.cancel, Cancellation(reason="withdrawn"))

    status = await run_with(env, services, application(), cancel)
    assert status.stage == Stage.CANCELLED
    assert services.commands == [m.ELIGIBILITY_REQUESTED]


class DeafAllocation(FakeServices):
    """Allocation takes the hold, then never answers a release."""

    async def _take(self, cmd: SendCommand, hand_back: bool) -> ServiceEvent | None:
        if cmd.type == m.RELEASE_REQUESTED:
            self.sent.append(cmd.type)
            return None
        return await super()._take(cmd, hand_back)


async def test_a_release_never_answered_ends_failed_and_a_manager_is_told(
    env: WorkflowEnvironment,
) -> None:
    services = DeafAllocation(env.client)

    async def decline(handle) -> None:
        await wait_for_terms(handle)
        await handle.execute_update(
            ApplicationWorkflow.decline_terms, TermsDecision(terms_sha256=TERMS_SHA)
        )

    if Under.workflow is ApplicationWorkflow:
        pytest.skip("the first type retries its workflow task instead (frozen, retiring)")
    status = await run_with(env, services, application(), decline)
    assert status.stage == Stage.FAILED
    assert "could not give back (hold, reservation)" in status.reasons[-1]
    assert "compensation_incomplete" in services.notices
    assert services.sent.count(m.RELEASE_REQUESTED) > 1  # asked again before giving up
