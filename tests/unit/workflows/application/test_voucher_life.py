"""From the voucher to its closure: deliveries, the report, expiry, a booking withdrawn."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from loket_contracts import messages as m
from loket_contracts.application import (
    Cancellation,
    Stage,
    TermsDecision,
)
from loket_workflows.application.v1 import ApplicationWorkflow
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from tests.unit.workflows.fake_services import FakeServices
from tests.unit.workflows.harness import (
    accept_current_terms,
    application,
    deliver,
    run_with,
    wait_for_stage,
    wait_for_terms,
)
from tests.unit.workflows.replies import REPORT, T0, TERMS_SHA
from tests.unit.workflows.sealing import (
    MANAGER,
    acting,
)


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
