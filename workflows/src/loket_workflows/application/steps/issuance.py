"""7. The acceptance recorded, the booking confirmed, the voucher issued. The vouchers service
checks the de minimis ceiling again at the grant (pilot-2026-r2): aid granted meanwhile may
have used the headroom, and then the aid is screened again."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from loket_contracts import commands as c
    from loket_contracts import messages as m
    from loket_contracts.application import Stage

    from loket_workflows.application.conversation import Conversation
    from loket_workflows.application.state import Held, Next
    from loket_workflows.application.steps.giving_back import (
        MAX_REALLOCATIONS,
        compensate,
        reallocate,
    )
    from loket_workflows.application.steps.offer import agree


async def issue(conv: Conversation) -> Next:
    """ON (issued), ENDED or REOFFER (the hold was lost before it could be confirmed)."""
    s = conv.s
    conv.enter(Stage.ISSUING)
    _record_acceptance(conv)
    # Issuance runs to its end; a cancellation meanwhile is handled once the voucher exists.
    ref = m.AllocationRef(application_id=s.app_id)
    confirmed = await conv.ask(c.CONFIRM, "confirm", ref, m.AllocationConfirmed, cancellable=False)
    if not confirmed.confirmed:
        s.held.discard(Held.HOLD)
        if s.has(m.ALLOCATION_INVALIDATED):
            lost = s.take_as(m.ALLOCATION_INVALIDATED, m.AllocationInvalidated)
            return await reallocate(conv, lost.reason)
        await compensate(conv)
        conv.finish(Stage.FAILED, [confirmed.reason])
        return Next.ENDED
    # From here the booking, then the voucher, are what must be given back.
    s.held.discard(Held.HOLD)
    s.held.add(Held.BOOKING)
    return await _grant(conv)


def _record_acceptance(conv: Conversation) -> None:
    """The charter service keeps the acceptance, immutable, next to the agreement."""
    acceptance = conv.s.status.acceptance
    if acceptance is not None:
        conv.queue(c.RECORD_ACCEPTANCE, "acceptance" + conv.s.rescreened(), acceptance)


async def _grant(conv: Conversation) -> Next:
    """Issue; if the aid was screened again, a new agreement first (the booking stays); if no
    instrument is left, a refusal with the reason."""
    s = conv.s
    while True:
        ref = m.VoucherRef(application_id=s.app_id)
        got = await conv.ask_any(c.ISSUE, "issue" + s.rescreened(), ref, cancellable=False)
        if got.type == m.VOUCHER_ISSUED:
            issued = m.VoucherIssued.model_validate_json(got.data)
            s.held.discard(Held.RESERVATION)
            s.held.add(Held.VOUCHER)
            s.status.voucher_id = issued.voucher_id
            s.status.reasons = [
                f"voucher {issued.voucher_id} for EUR {issued.voucher_eur:,.2f} "
                f"({issued.instrument})"
            ]
            return Next.ON
        if got.type == m.SCREENING_REFUSED:
            refused = m.ScreeningRefused.model_validate_json(got.data)
            await compensate(conv)
            conv.finish(Stage.REFUSED, [refused.reason])
            return Next.ENDED
        aid = m.AidReserved.model_validate_json(got.data)
        s.rescreens += 1
        if s.rescreens > MAX_REALLOCATIONS:
            await compensate(conv)
            conv.finish(Stage.FAILED, [f"aid screened again too often: {aid.reason}"])
            return Next.ENDED
        s.set_aid(aid)
        s.status.reasons = [f"screened again at the grant: {aid.reason}"]
        s.forget_terms()
        conv.notify(
            "applicant",
            "aid_rescreened",
            f"Before your voucher could be issued: {aid.reason}. New terms follow.",
        )
        agreed = await agree(conv, s.status.allocation, aid)
        if agreed != Next.ON:
            return agreed
        conv.enter(Stage.ISSUING)
        _record_acceptance(conv)
