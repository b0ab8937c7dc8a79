"""What a run costs and keeps in history: answers in the send, no patches, lost answers asked
again, the terms in history before anyone is told."""

from __future__ import annotations

import asyncio
import time

import pytest
from loket_contracts import messages as m
from loket_contracts.application import (
    Cancellation,
    Stage,
    TermsDecision,
)
from loket_workflows.application.v1 import ApplicationWorkflow
from loket_workflows.application.workflow import ApplicationV3
from temporalio.testing import WorkflowEnvironment

from tests.unit.workflows.fake_services import FakeServices, Under
from tests.unit.workflows.harness import (
    RESULT_WITHIN_S,
    accept_current_terms,
    application,
    run_with,
    wait_for_stage,
    wait_for_terms,
)
from tests.unit.workflows.replies import TERMS_SHA


async def test_a_lost_answer_is_asked_for_again_and_a_manager_told(
    env: WorkflowEnvironment,
) -> None:
    services = FakeServices(env.client)
    # the broker lost the vouchers service's answer, and again the answer to the first resend
    services.lose = {m.SCREENING_REQUESTED: 2}
    inp = application().model_copy(update={"resend_after_seconds": 60, "stuck_notice_seconds": 100})

    async def wait_out_the_silence(handle) -> None:
        await wait_for_stage(handle, Stage.SCREENING)
        await env.sleep(200)  # time skips: sent again at 60 s, then 180 s
        await accept_current_terms(handle)
        await handle.execute_update(ApplicationWorkflow.cancel, Cancellation(reason="test done"))

    status = await run_with(env, services, inp, wait_out_the_silence)
    assert status.stage == Stage.CANCELLED and status.voucher_id == "V-1"
    assert services.resent == [m.SCREENING_REQUESTED, m.SCREENING_REQUESTED]
    assert services.sent.count(m.SCREENING_REQUESTED) == 1  # one screening at the service
    assert "application_stuck" in services.notices  # told after 180 s > 100 s


async def test_answers_that_come_with_the_send_take_one_workflow_task_to_the_terms(
    env: WorkflowEnvironment,
) -> None:
    """Eligibility, hold, screening and terms: four questions. Answered as the sends' results,
    the application reaches its terms in the workflow task it started with, with no signal,
    and announces them in a second once that one is in history; answered as signals, each
    answer costs a signal and a workflow task of its own."""
    if Under.workflow is ApplicationWorkflow:
        pytest.skip("the first type takes its answers as signals only (frozen, retiring)")
    services = FakeServices(env.client)
    counted: dict[str, int] = {}

    async def count_then_decline(handle) -> None:
        # Watched through the stage events and the history, not by queries (a query may cost
        # a workflow task on the test server).
        end = time.monotonic() + RESULT_WITHIN_S
        while True:
            if Stage.AWAITING_ACCEPTANCE in services.stages:
                counted.clear()
                async for event in handle.fetch_history_events():
                    kind = event.WhichOneof("attributes")
                    counted[kind] = counted.get(kind, 0) + 1
                scheduled = counted.get("activity_task_scheduled_event_attributes", 0)
                ran = counted.get("activity_task_completed_event_attributes", 0)
                # Not a workflow task scheduled or started, nor an activity under way: done.
                if not kind.startswith("workflow_task_s") and scheduled == ran:
                    break
            assert time.monotonic() < end, f"never waited for acceptance: {services.stages}"
            await asyncio.sleep(0.02)
        await handle.execute_update(
            ApplicationWorkflow.decline_terms, TermsDecision(terms_sha256=TERMS_SHA)
        )

    status = await run_with(env, services, application(), count_then_decline)
    assert status.stage == Stage.DECLINED
    signals = counted.get("workflow_execution_signaled_event_attributes", 0)
    tasks = counted.get("workflow_task_completed_event_attributes", 0)
    if Under.answers_in_send:
        # The second task follows the activity that announced the terms (conversation.py).
        assert (signals, tasks) == (0, 2), counted
        assert counted.get("activity_task_scheduled_event_attributes") == 1, counted
    else:
        assert signals == 4 and tasks >= 5, counted


CHANGES = "TemporalChangeVersion"  # the search attribute sdk-core upserts at each patch


async def test_new_applications_carry_no_patch(env: WorkflowEnvironment) -> None:
    """Every `workflow.patched` writes a marker and an upsert of `TemporalChangeVersion` into
    each run's history. The current type carries none; the retiring V2 records its two."""
    if Under.workflow is ApplicationWorkflow or not Under.answers_in_send:
        pytest.skip("the first type's patches retire with it; the signalled path is the same")
    services = FakeServices(env.client)
    handles = []

    async def decline(handle) -> None:
        handles.append(handle)
        await wait_for_terms(handle)
        await handle.execute_update(
            ApplicationWorkflow.decline_terms, TermsDecision(terms_sha256=TERMS_SHA)
        )

    assert (await run_with(env, services, application(), decline)).stage == Stage.DECLINED
    markers, versions = [], []
    async for event in handles[0].fetch_history_events():
        if event.HasField("marker_recorded_event_attributes"):
            markers.append(event.marker_recorded_event_attributes.marker_name)
        if event.HasField("upsert_workflow_search_attributes_event_attributes"):
            upserted = event.upsert_workflow_search_attributes_event_attributes
            versions += [k for k in upserted.search_attributes.indexed_fields if k == CHANGES]
    patches = 0 if Under.workflow is ApplicationV3 else 2
    assert markers.count("core_patch") == patches, markers
    assert len(versions) <= patches, versions  # (where the server records them)
    assert "core_local_activity" in markers  # the history was read


async def test_the_terms_are_in_history_when_the_applicant_is_told_to_accept_them(
    env: WorkflowEnvironment,
) -> None:
    """A worker that lost the run (a crash, a timed-out workflow task) rebuilds it from
    history. Had the terms not been there yet when the stage event told the applicant to
    accept them, a query right after would answer "terms not ready"."""
    services = FakeServices(env.client)

    async def decline(handle) -> None:
        await wait_for_terms(handle)
        await handle.execute_update(
            ApplicationWorkflow.decline_terms, TermsDecision(terms_sha256=TERMS_SHA)
        )

    assert (await run_with(env, services, application(), decline)).stage == Stage.DECLINED
    assert len(services.history_when_told) == 1
    assert any(TERMS_SHA.encode() in event for event in services.history_when_told[0])
