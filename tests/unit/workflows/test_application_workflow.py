"""The application workflow on Temporal's time-skipping test server, with the Kafka activity
replaced by a fake that answers like the services would (fast, in-memory; the e2e suite runs the
real services).

Every test runs on each registered type: `ApplicationV3` (new applications) and the retiring
`ApplicationV2` and `ApplicationWorkflow` (runs started before it), so they behave the same until
the retiring ones are deleted. Queries and updates are addressed by name; the names are the same
on all three."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import jwt
import pytest
from loket_contracts import commands, seals
from loket_contracts import messages as m
from loket_contracts.application import (
    NOTIFICATION,
    SIGNAL_SERVICE_EVENT,
    STAGE_CHANGED,
    TASK_QUEUE,
    UPDATE_ACCEPT_TERMS,
    AccessReport,
    ApplicationInput,
    ApplicationStatus,
    Cancellation,
    ManagerDecision,
    Notification,
    ServiceEvent,
    Stage,
    StageChanged,
    TermsDecision,
)
from loket_workflows.application.dto import SendCommand, SendCommands, SendResult
from loket_workflows.application.v1 import ApplicationWorkflow
from loket_workflows.application.v2 import ApplicationV2
from loket_workflows.application.workflow import ApplicationV3
from pydantic import BaseModel
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.temporal_test_server import time_skipping_server
from tests.unit.workflows.sealing import (
    MANAGER,
    OWNED_BY,
    OWNER,
    STRANGER,
    UNSEALED,
    Sealing,
    acting,
)

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
RESULT_WITHIN_S = 300


class Under:
    """The workflow type the current test runs, and how answers reach it: as signals (a
    bridge in another worker, or a send that stopped waiting), or as the result of the send
    that asked (the bridge in the worker that runs the send)."""

    workflow: Any = ApplicationV3
    answers_in_send = False


@pytest.fixture(
    autouse=True,
    params=[
        (ApplicationV3, True),
        (ApplicationV3, False),
        (ApplicationV2, True),
        (ApplicationWorkflow, False),
    ],
    ids=["ApplicationV3", "ApplicationV3-signalled", "ApplicationV2", "ApplicationWorkflow"],
)
def workflow_type(request: pytest.FixtureRequest) -> Any:
    Under.workflow, Under.answers_in_send = request.param
    return Under.workflow


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    sealing = Sealing()
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=time_skipping_server(),
        data_converter=pydantic_data_converter,
        interceptors=[sealing],
    ) as environment:
        sealing.env = environment
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
                sha256=TERMS_SHA
                if "#" not in cmd.event_id and "rescreen" not in cmd.event_id
                else "b" * 64,
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
        case m.BOOKING_CLOSE_REQUESTED:
            return m.BOOKING_CLOSED, m.BookingClosed(
                application_id=app, units_delivered=0, units_released=2, reason="closed"
            )
        case m.VOUCHER_CLOSE_REQUESTED:
            return m.VOUCHER_CLOSED, m.VoucherClosed(
                application_id=app,
                voucher_id="V-1",
                redeemed_eur=Decimal(0),
                released_eur=Decimal(6000),
                aid_recorded_eur=Decimal(0),
                legal_source="R&D&I Framework",
                reason=m.VoucherClose.model_validate_json(cmd.body_json).reason,
            )
        case m.RELEASE_REQUESTED:
            return m.ALLOCATION_RELEASED, m.AllocationReleased(application_id=app, units_released=2)
        case m.RESERVATION_RELEASE_REQUESTED:
            return m.RESERVATION_RELEASED, m.ReservationReleased(
                application_id=app, released_eur=Decimal(6000)
            )
    return None


class FakeServices:
    """Stands in for Kafka + services + bridge: records commands, signals replies back, and
    keeps a ledger of what the application holds at each service, as the services would."""

    def __init__(
        self,
        client: Client,
        eligible: bool | None = True,
        pause_on: str | None = None,
        at_grant: str | None = None,
    ) -> None:
        self.client, self.eligible = client, eligible
        # The first issuance finds the de minimis headroom gone: "rescreened" into GBER
        # Art. 28 at 50 %, or "refused" (no instrument left).
        self.at_grant = at_grant
        self.sent: list[str] = []
        self.notices: list[str] = []
        self.held: set[str] = set()  # "hold" | "booking" | "reservation" | "voucher"
        self.redeemed = Decimal(0)
        # A command whose reply waits until `resume()`: the service is slow, not wrong.
        self.pause_on, self.paused = pause_on, asyncio.Event()
        self.pending: list[tuple[str, ServiceEvent]] = []
        # Like the services' inbox: a command seen before changes nothing, its answer is sent
        # again. `lose` drops the first answer to these command types (a broker lost it).
        self.seen_ids: set[str] = set()
        self.lose: dict[str, int] = {}
        self.resent: list[str] = []
        self.answered: dict[str, ServiceEvent] = {}
        self.stages: list[Stage] = []  # as told in stage events
        # The history's events (serialised) each time an applicant was told to accept terms.
        self.history_when_told: list[list[bytes]] = []

    def _book(self, cmd: SendCommand) -> None:
        """The effect of a command at its service, in arrival order like one partition."""
        take = {
            m.HOLD_REQUESTED: "hold",
            m.SCREENING_REQUESTED: "reservation",
        }
        give = {
            m.RELEASE_REQUESTED: ("hold", "booking"),
            m.RESERVATION_RELEASE_REQUESTED: ("reservation",),
            m.BOOKING_CLOSE_REQUESTED: ("booking",),
            m.VOUCHER_CLOSE_REQUESTED: ("voucher",),
        }
        if cmd.type in take:
            self.held.add(take[cmd.type])
        elif cmd.type == m.CONFIRM_REQUESTED and "hold" in self.held:
            self.held.discard("hold")
            self.held.add("booking")
        elif cmd.type == m.ISSUE_REQUESTED and "reservation" in self.held:
            self.held.discard("reservation")
            self.held.add("voucher")
        for what in give.get(cmd.type, ()):
            self.held.discard(what)

    @activity.defn(name="send_command")
    async def send_command(self, cmd: SendCommand) -> None:
        await self._take(cmd, hand_back=False)

    async def _take(self, cmd: SendCommand, hand_back: bool) -> ServiceEvent | None:
        """The service's answer, handed back to the send when `hand_back`, else signalled."""
        if cmd.event_id in self.seen_ids:
            self.resent.append(cmd.type)
            if cmd.type in self.answered and not self._lost(cmd.type):
                return await self._answer(cmd.correlation_id, self.answered[cmd.type], hand_back)
            return None
        self.seen_ids.add(cmd.event_id)
        self.sent.append(cmd.type)
        self._book(cmd)
        if cmd.type == STAGE_CHANGED:
            self.stages.append(StageChanged.model_validate_json(cmd.body_json).stage)
            if self.stages[-1] == Stage.AWAITING_ACCEPTANCE:
                handle = self.client.get_workflow_handle(cmd.correlation_id)
                history = await handle.fetch_history()
                self.history_when_told.append([e.SerializeToString() for e in history.events])
        if cmd.type == NOTIFICATION:
            self.notices.append(Notification.model_validate_json(cmd.body_json).kind)
        answer = self.answer(cmd)
        if answer is None:
            return None
        type_, body = answer
        assert type_ in commands.BY_TYPE[cmd.type].answers, (cmd.type, type_)  # as the registry
        event = ServiceEvent(
            event_id=f"{cmd.event_id}/reply", type=type_, data=body.model_dump_json()
        )
        if cmd.type == self.pause_on and not self.paused.is_set():
            self.pending.append((cmd.correlation_id, event))
            return None
        self.answered[cmd.type] = event
        if not self._lost(cmd.type):
            return await self._answer(cmd.correlation_id, event, hand_back)
        return None

    async def _answer(
        self, app_id: str, event: ServiceEvent, hand_back: bool
    ) -> ServiceEvent | None:
        if hand_back:
            return event
        await self.signal(app_id, event)
        return None

    def _lost(self, type_: str) -> bool:
        if self.lose.get(type_, 0) > 0:
            self.lose[type_] -= 1
            return True
        return False

    async def signal(self, app_id: str, event: ServiceEvent) -> None:
        await self.client.get_workflow_handle(app_id).signal(SIGNAL_SERVICE_EVENT, event)

    @activity.defn(name="send_commands")
    async def send_commands(self, batch: SendCommands) -> SendResult:
        result = SendResult()
        for cmd in batch.commands:
            hand_back = Under.answers_in_send and cmd.event_id == batch.answer_to
            answer = await self._take(cmd, hand_back)
            if answer is not None:
                assert answer.type in batch.answer_types, (answer.type, batch.answer_types)
                result.answer = answer
        return result

    def answer(self, cmd: SendCommand) -> tuple[str, BaseModel] | None:
        if cmd.type == m.ISSUE_REQUESTED and self.at_grant is not None:
            at_grant, self.at_grant = self.at_grant, None
            self.held.discard("voucher")  # nothing was issued: the reservation stays
            self.held.add("reservation")
            app = cmd.correlation_id
            if at_grant == "refused":
                return m.SCREENING_REFUSED, m.ScreeningRefused(
                    application_id=app,
                    code="de_minimis_headroom_exhausted",
                    scheme_version="pilot-2026-r2",
                    reason="no longer fits; GBER Art. 28 is not open to an undertaking in "
                    "difficulty",
                )
            return m.AID_RESCREENED, m.AidReserved(
                application_id=app,
                instrument="gber_art28",
                intensity=Decimal("0.5"),
                aid_element_eur=Decimal(3000),
                voucher_eur=Decimal(3000),
                co_payment_eur=Decimal(3000),
                de_minimis_headroom_after_eur=Decimal(0),
                scheme_version="pilot-2026-r2",
                reason="no longer fits; GBER Art. 28 applies at 50%",
            )
        if cmd.type == m.REDEEM_REQUESTED:
            redemption = m.Redemption.model_validate_json(cmd.body_json)
            self.redeemed += redemption.market_value_eur
            return m.VOUCHER_REDEEMED, m.VoucherRedeemed(
                application_id=cmd.correlation_id,
                voucher_id="V-1",
                delivery_id=redemption.delivery_id,
                redeemed_eur=redemption.market_value_eur,
                redeemed_total_eur=self.redeemed,
                remaining_eur=Decimal(6000) - self.redeemed,
            )
        return reply(cmd, self.eligible)

    async def withdraw_capacity(self, handle, was: str = "confirmed") -> None:
        """A facility withdrew the slot: the allocation service releases the bundle itself
        and tells the workflow."""
        self.held -= {"hold", "booking"}
        await handle.signal(SIGNAL_SERVICE_EVENT, invalidated(handle, len(self.sent), was))

    @property
    def commands(self) -> list[str]:
        """What went to the services (not the stage events and notifications for people)."""
        return [t for t in self.sent if t not in (STAGE_CHANGED, NOTIFICATION)]

    async def resume(self) -> None:
        self.paused.set()
        for app_id, event in self.pending:
            with contextlib.suppress(RPCError):  # the application may have ended: as the bridge
                await self.client.get_workflow_handle(app_id).signal(SIGNAL_SERVICE_EVENT, event)


async def deliver(handle, units: int, sequence: int, total: int) -> None:
    """What the bridge forwards when the allocation service recorded a facility's delivery."""
    await handle.signal(
        SIGNAL_SERVICE_EVENT,
        ServiceEvent(
            event_id=f"delivery-{sequence}",
            type=m.DELIVERY_RECORDED,
            data=m.DeliveryRecorded(
                application_id=handle.id,
                delivery_id=f"f/{sequence}",
                facility_id="f",
                slot_id="s",
                units=units,
                market_value_eur=Decimal(3000) * units,
                delivered_at=T0 + timedelta(days=40),
                units_delivered_total=total,
                units_booked_total=2,
            ).model_dump_json(),
        ),
    )


def application(window_s: int = 14 * 24 * 3600) -> ApplicationInput:
    return ApplicationInput(
        application_id=f"app-{uuid.uuid4().hex[:8]}",
        owner=OWNED_BY,
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
        workflows=[Under.workflow],
        activities=[services.send_command, services.send_commands],
    ):
        handle = await env.client.start_workflow(
            Under.workflow.run, inp, id=inp.application_id, task_queue=TASK_QUEUE
        )
        if act is not None:
            await act(handle)  # type: ignore[misc]
        # Bounded: a workflow task that never completes fails the test instead of hanging it.
        result = await asyncio.wait_for(handle.result(), RESULT_WITHIN_S)
        await record_history(handle)
        return result


async def record_history(handle) -> None:
    """With LOKET_RECORD_HISTORIES=<version>, keep this run's history for the replay tests."""
    version = os.environ.get("LOKET_RECORD_HISTORIES")
    if not version or Under.workflow is not ApplicationV3 or not Under.answers_in_send:
        return  # the retiring types are frozen; the signalled path makes no other commands
    test = os.environ["PYTEST_CURRENT_TEST"].split("::")[-1].split(" ")[0]
    test = re.sub(r"-?ApplicationV3-?", "", test).replace("[]", "")
    HISTORIES.mkdir(exist_ok=True)
    history = await handle.fetch_history()
    compact = json.dumps(json.loads(history.to_json()), separators=(",", ":"))
    (HISTORIES / f"{version}-{test}.json").write_text(compact)


async def wait_for_terms(handle) -> None:
    await wait_for_stage(handle, Stage.AWAITING_ACCEPTANCE)


async def accept_current_terms(handle) -> None:
    await wait_for_terms(handle)
    sha = (await handle.query(ApplicationWorkflow.status)).terms_sha256
    await handle.execute_update(ApplicationWorkflow.accept_terms, TermsDecision(terms_sha256=sha))


REPORT = AccessReport(summary="Imaged 40 samples; the defect map fed our process change.")


async def test_voucher_delivery_report_and_closure(env: WorkflowEnvironment) -> None:
    services = FakeServices(env.client)

    async def use_the_voucher(handle) -> None:
        await wait_for_terms(handle)
        with pytest.raises(WorkflowUpdateFailedError):  # not the text offered
            await handle.execute_update(
                ApplicationWorkflow.accept_terms, TermsDecision(terms_sha256="b" * 64)
            )
        await handle.execute_update(
            ApplicationWorkflow.accept_terms, TermsDecision(terms_sha256=TERMS_SHA)
        )
        await wait_for_stage(handle, Stage.VOUCHER_ISSUED)
        with pytest.raises(WorkflowUpdateFailedError):  # no report before delivery ended
            await handle.execute_update(ApplicationWorkflow.submit_report, REPORT)
        deadlines = await handle.query(ApplicationWorkflow.deadlines)
        assert set(deadlines) == {"voucher_expiry"}
        await deliver(handle, units=1, sequence=1, total=1)
        await deliver(handle, units=1, sequence=1, total=1)  # the bridge redelivers: ignored
        await deliver(handle, units=1, sequence=2, total=2)
        await wait_for_stage(handle, Stage.REPORT_DUE)
        status = await handle.query(ApplicationWorkflow.status)
        assert status.deadlines["access_report"] == T0 + timedelta(days=40 + 60)
        await handle.execute_update(ApplicationWorkflow.submit_report, REPORT)

    status = await run_with(env, services, application(), use_the_voucher)
    assert status.stage == Stage.CLOSED
    assert status.voucher_id == "V-1"
    assert status.reasons[0].startswith("access report received")
    assert status.access_report is not None and status.access_report.summary == REPORT.summary
    assert status.delivery is not None
    assert (status.delivery.units_delivered, status.delivery.redeemed_eur) == (2, Decimal(6000))
    assert services.sent.count(m.REDEEM_REQUESTED) == 2
    assert m.RELEASE_REQUESTED not in services.sent
    assert services.held == set()  # booking and voucher closed
    assert [s.stage for s in status.history][-4:] == [
        Stage.ISSUING,
        Stage.VOUCHER_ISSUED,
        Stage.REPORT_DUE,
        Stage.CLOSED,
    ]
    assert {"voucher_issued", "booking_confirmed", "access_report_due"} <= set(services.notices)


async def test_twelve_month_expiry_releases_unused_units_then_report_overdue_closes(
    env: WorkflowEnvironment,
) -> None:
    services = FakeServices(env.client)

    async def half_used(handle) -> None:
        await accept_current_terms(handle)
        await wait_for_stage(handle, Stage.VOUCHER_ISSUED)
        await deliver(handle, units=1, sequence=1, total=1)
        # nothing more: the 12 months pass, then the 60 days for the report

    status = await run_with(env, services, application(), half_used)
    assert status.stage == Stage.CLOSED
    assert status.reasons[0].startswith("closed without the access report")
    assert status.delivery is not None and status.delivery.closed_reason is not None
    assert "expired" in status.delivery.closed_reason
    issued_at = next(c.at for c in status.history if c.stage == Stage.VOUCHER_ISSUED)
    closed_at = next(c.at for c in status.history if c.stage == Stage.REPORT_DUE)
    assert closed_at - issued_at >= timedelta(days=365)
    # unused units released at the facility, the voucher closed (aid corrected there)
    assert services.sent.index(m.BOOKING_CLOSE_REQUESTED) < services.sent.index(
        m.VOUCHER_CLOSE_REQUESTED
    )
    assert services.held == set()
    assert services.notices[-2:] == ["access_report_due", "access_report_overdue"]


async def test_voucher_unused_for_twelve_months_closes_without_a_report(
    env: WorkflowEnvironment,
) -> None:
    services = FakeServices(env.client)
    status = await run_with(env, services, application(), accept_current_terms)
    assert status.stage == Stage.CLOSED
    assert status.reasons[0].startswith("nothing delivered") and "expired on" in status.reasons[0]
    assert Stage.REPORT_DUE not in [c.stage for c in status.history]
    assert services.held == set()


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
    assert services.commands == [m.ELIGIBILITY_REQUESTED]


async def test_withdrawn_capacity_re_allocates_and_needs_a_new_acceptance(
    env: WorkflowEnvironment,
) -> None:
    services = FakeServices(env.client)

    async def withdraw_then_accept(handle) -> None:
        await wait_for_terms(handle)
        await services.withdraw_capacity(handle, was="held")
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
    assert Stage.VOUCHER_ISSUED in [c.stage for c in status.history]
    assert status.acceptance is not None and status.acceptance.terms_sha256 == "b" * 64
    assert services.sent.count(m.HOLD_REQUESTED) == 2
    assert services.sent.count(m.RESERVATION_RELEASE_REQUESTED) == 1  # the first aid went back
    assert m.RELEASE_REQUESTED not in services.sent  # allocation had released the hold itself


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


async def wait_for_stage(handle, stage: Stage) -> None:
    for _ in range(300):
        if (await handle.query(ApplicationWorkflow.status)).stage == stage:
            return
        await asyncio.sleep(0.02)
    status = await handle.query(ApplicationWorkflow.status)
    raise AssertionError(f"never reached {stage}: {status.stage}, {status.reasons}")


async def test_manager_review_escalates_then_approval_continues(env: WorkflowEnvironment) -> None:
    services = FakeServices(env.client, eligible=None)

    async def review(handle) -> None:
        await wait_for_stage(handle, Stage.MANUAL_REVIEW)
        for who in (OWNER, UNSEALED):  # not from a manager: refused
            with acting(who), pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(
                    ApplicationWorkflow.review, ManagerDecision(approve=True, reason="fine")
                )
        await env.sleep(timedelta(days=6))  # past the 5-day escalation deadline
        with acting(MANAGER):
            await handle.execute_update(
                ApplicationWorkflow.review,
                ManagerDecision(approve=True, reason="accounts checked"),
            )
        await wait_for_terms(handle)
        await handle.execute_update(
            ApplicationWorkflow.accept_terms, TermsDecision(terms_sha256=TERMS_SHA)
        )

    status = await run_with(env, services, application(), review)
    assert Stage.VOUCHER_ISSUED in [c.stage for c in status.history]
    assert services.notices[:2] == ["review_needed", "review_escalated"]


async def test_manager_rejection_ends_the_application(env: WorkflowEnvironment) -> None:
    services = FakeServices(env.client, eligible=None)

    async def reject(handle) -> None:
        await wait_for_stage(handle, Stage.MANUAL_REVIEW)
        with acting(MANAGER):
            await handle.execute_update(
                ApplicationWorkflow.review, ManagerDecision(approve=False, reason="in difficulty")
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


def invalidated(handle, n: int, was: str = "confirmed") -> ServiceEvent:
    return ServiceEvent(
        event_id=f"inv-{n}",
        type=m.ALLOCATION_INVALIDATED,
        data=m.AllocationInvalidated(
            application_id=handle.id,
            facility_id="f",
            slot_id="s",
            was=was,
            reason="beamline maintenance",
        ).model_dump_json(),
    )


async def test_booking_withdrawn_before_any_delivery_voids_the_voucher_and_offers_again(
    env: WorkflowEnvironment,
) -> None:
    services = FakeServices(env.client)

    async def withdraw_after_issuance(handle) -> None:
        await accept_current_terms(handle)
        await wait_for_stage(handle, Stage.VOUCHER_ISSUED)
        await services.withdraw_capacity(handle)
        for _ in range(300):  # a new offer, with a new text to accept
            status = await handle.query(ApplicationWorkflow.status)
            if status.stage == Stage.AWAITING_ACCEPTANCE and status.terms_sha256 == "b" * 64:
                break
            await asyncio.sleep(0.02)
        await accept_current_terms(handle)
        await wait_for_stage(handle, Stage.VOUCHER_ISSUED)
        await deliver(handle, units=2, sequence=1, total=2)
        await wait_for_stage(handle, Stage.REPORT_DUE)
        await handle.execute_update(ApplicationWorkflow.submit_report, REPORT)

    status = await run_with(env, services, application(), withdraw_after_issuance)
    assert status.stage == Stage.CLOSED
    assert services.commands.count(m.ISSUE_REQUESTED) == 2
    # the first voucher was closed (voided) before the second offer was screened
    first_close = services.commands.index(m.VOUCHER_CLOSE_REQUESTED)
    assert first_close < services.commands.index(m.HOLD_REQUESTED, first_close)
    assert m.BOOKING_CLOSE_REQUESTED in services.commands  # the second booking, at the end
    assert "reallocating" in services.notices
    assert services.held == set()


async def test_booking_withdrawn_after_a_delivery_ends_the_voucher_early(
    env: WorkflowEnvironment,
) -> None:
    services = FakeServices(env.client)

    async def withdraw_midway(handle) -> None:
        await accept_current_terms(handle)
        await wait_for_stage(handle, Stage.VOUCHER_ISSUED)
        await deliver(handle, units=1, sequence=1, total=1)
        await services.withdraw_capacity(handle)
        await wait_for_stage(handle, Stage.REPORT_DUE)
        await handle.execute_update(ApplicationWorkflow.submit_report, REPORT)

    status = await run_with(env, services, application(), withdraw_midway)
    assert status.stage == Stage.CLOSED
    assert status.delivery is not None and status.delivery.closed_reason is not None
    assert "beamline maintenance" in status.delivery.closed_reason
    assert services.commands.count(m.HOLD_REQUESTED) == 1  # no new offer: part was used
    # the allocation service released the booking itself; only the voucher is closed
    assert m.BOOKING_CLOSE_REQUESTED not in services.commands
    assert m.VOUCHER_CLOSE_REQUESTED in services.commands


async def test_a_manager_may_close_a_file_whose_report_is_due(env: WorkflowEnvironment) -> None:
    services = FakeServices(env.client)

    async def waive(handle) -> None:
        await accept_current_terms(handle)
        await wait_for_stage(handle, Stage.VOUCHER_ISSUED)
        await deliver(handle, units=2, sequence=1, total=2)
        await wait_for_stage(handle, Stage.REPORT_DUE)
        with acting(MANAGER):
            await handle.execute_update(
                ApplicationWorkflow.cancel, Cancellation(reason="company dissolved")
            )

    status = await run_with(env, services, application(), waive)
    assert status.stage == Stage.CANCELLED
    assert status.delivery is not None and status.delivery.redeemed_eur == Decimal(6000)
    assert services.held == set()


class NoSecondBundle(FakeServices):
    """Capacity is gone for good: a new offer finds nothing."""

    def answer(self, cmd: SendCommand) -> tuple[str, BaseModel] | None:
        if cmd.type == m.HOLD_REQUESTED and "#" in cmd.event_id:
            self.held.discard("hold")
            return m.HOLD_FAILED, m.HoldFailed(
                application_id=cmd.correlation_id, reason="no other beamline has free shifts"
            )
        return super().answer(cmd)


async def test_when_no_other_bundle_exists_everything_is_released_and_the_applicant_told(
    env: WorkflowEnvironment,
) -> None:
    services = NoSecondBundle(env.client)

    async def withdraw(handle) -> None:
        await wait_for_terms(handle)
        await services.withdraw_capacity(handle, was="held")

    status = await run_with(env, services, application(), withdraw)
    assert status.stage == Stage.UNALLOCATABLE
    assert status.reasons == ["no other beamline has free shifts"]
    assert services.notices[-2:] == ["reallocating", "reallocation_failed"]
    assert services.held == set()


async def test_only_sealed_decisions_of_the_owner_or_a_manager_count(
    env: WorkflowEnvironment,
) -> None:
    """An update sent straight to Temporal (no seal), a seal for another application, a seal
    that expired, or a person of another organisation: each is refused, and nothing changes.
    The decision that counts records who made it."""
    services = FakeServices(env.client)

    async def attempts(handle) -> None:
        await wait_for_terms(handle)
        decision = TermsDecision(terms_sha256=TERMS_SHA)
        now = await env.get_current_time()
        other_app = seals.seal(OWNER, "app-other", UPDATE_ACCEPT_TERMS, now)
        expired = seals.seal(OWNER, handle.id, UPDATE_ACCEPT_TERMS, now - timedelta(hours=1))
        forged = jwt.encode({"sub": "x", "exp": 4102444800}, b"x" * 32, algorithm="HS256")
        refusals = []
        for seal in (other_app, expired, forged):
            with acting(UNSEALED), pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(
                    ApplicationWorkflow.accept_terms, decision.model_copy(update={"seal": seal})
                )
            refusals.append(str(refused.value.cause))
        for who in (UNSEALED, STRANGER):
            with acting(who), pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(ApplicationWorkflow.accept_terms, decision)
            refusals.append(str(refused.value.cause))
        assert ["another application" in refusals[0], "expired" in refusals[1]] == [True, True]
        assert "not the gateway's" in refusals[2] and "no seal" in refusals[3]
        assert "may not decide" in refusals[4]
        assert (await handle.query(ApplicationWorkflow.status)).stage == Stage.AWAITING_ACCEPTANCE
        await handle.execute_update(ApplicationWorkflow.accept_terms, decision)  # the owner
        await wait_for_stage(handle, Stage.VOUCHER_ISSUED)
        with acting(MANAGER):
            await handle.execute_update(
                ApplicationWorkflow.cancel, Cancellation(reason="audit found misuse")
            )

    status = await run_with(env, services, application(), attempts)
    assert status.acceptance is not None and status.acceptance.actor == OWNER
    assert [(d.decision, d.actor.subject) for d in status.decisions] == [
        ("accept_terms", OWNER.subject),
        ("cancel", MANAGER.subject),
    ]
    assert status.reasons == ["cancelled by M. Manager: audit found misuse"]


async def test_headroom_gone_at_the_grant_needs_a_new_agreement(env: WorkflowEnvironment) -> None:
    """Reg. (EU) 2023/2831 Art. 3(3): checked again at issuance; a new instrument means new
    terms and a new acceptance before the voucher, the booking kept meanwhile."""
    services = FakeServices(env.client, at_grant="rescreened")

    async def accept_twice(handle) -> None:
        await wait_for_terms(handle)
        await handle.execute_update(
            ApplicationWorkflow.accept_terms, TermsDecision(terms_sha256=TERMS_SHA)
        )
        for _ in range(300):  # the new terms, after the re-screening at issuance
            if (await handle.query(ApplicationWorkflow.status)).terms_sha256 == "b" * 64:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("no new terms after the re-screening")
        with pytest.raises(WorkflowUpdateFailedError):  # the first text no longer counts
            await handle.execute_update(
                ApplicationWorkflow.accept_terms, TermsDecision(terms_sha256=TERMS_SHA)
            )
        await wait_for_stage(handle, Stage.AWAITING_ACCEPTANCE)
        await handle.execute_update(
            ApplicationWorkflow.accept_terms, TermsDecision(terms_sha256="b" * 64)
        )
        await wait_for_stage(handle, Stage.VOUCHER_ISSUED)
        await handle.execute_update(ApplicationWorkflow.cancel, Cancellation(reason="test ends"))

    status = await run_with(env, services, application(), accept_twice)
    assert services.commands.count(m.ISSUE_REQUESTED) == 2
    assert services.commands.count(m.TERMS_REQUESTED) == 2
    assert services.commands.count(m.CONFIRM_REQUESTED) == 1  # the booking was kept
    assert "aid_rescreened" in services.notices
    assert status.aid is not None and status.aid.instrument == "gber_art28"
    assert status.aid.co_payment_eur == Decimal(3000)


async def test_no_instrument_left_at_the_grant_refuses_and_gives_everything_back(
    env: WorkflowEnvironment,
) -> None:
    services = FakeServices(env.client, at_grant="refused")

    async def accept(handle) -> None:
        await wait_for_terms(handle)
        await handle.execute_update(
            ApplicationWorkflow.accept_terms, TermsDecision(terms_sha256=TERMS_SHA)
        )

    status = await run_with(env, services, application(), accept)
    assert status.stage == Stage.REFUSED
    assert "not open to an undertaking in difficulty" in status.reasons[0]
    assert services.held == set()  # the booking closed, the reservation released


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
