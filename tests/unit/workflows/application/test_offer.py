"""From eligibility to the accepted offer: review, decline, silence, re-allocation, sealed
decisions, the de minimis check at the grant."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import jwt
import pytest
from loket_contracts import messages as m
from loket_contracts import seals
from loket_contracts.application import (
    UPDATE_ACCEPT_TERMS,
    Cancellation,
    ManagerDecision,
    Stage,
    TermsDecision,
)
from loket_workflows.application.dto import SendCommand
from loket_workflows.application.v1 import ApplicationWorkflow
from pydantic import BaseModel
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from tests.unit.workflows.fake_services import FakeServices
from tests.unit.workflows.harness import (
    application,
    run_with,
    wait_for_stage,
    wait_for_terms,
)
from tests.unit.workflows.replies import TERMS_SHA
from tests.unit.workflows.sealing import (
    MANAGER,
    OWNER,
    STRANGER,
    UNSEALED,
    acting,
)


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
