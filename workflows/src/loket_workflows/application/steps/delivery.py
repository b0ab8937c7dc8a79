"""8. Facilities deliver and the voucher pays, until it is used up, expires, loses its
capacity or is cancelled."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from loket_contracts import messages as m
    from loket_contracts.application import DeliveryProgress, Stage

    from loket_workflows.application.conversation import Conversation
    from loket_workflows.application.state import Held, Next
    from loket_workflows.application.steps.giving_back import end_voucher, reallocate, redeem


async def deliver(conv: Conversation) -> Next:
    """ON (the voucher was closed), ENDED (cancelled) or REOFFER (capacity withdrawn before
    anything was delivered)."""
    s = conv.s
    lines = s.status.allocation
    valid_until = workflow.now() + timedelta(seconds=s.inp.voucher_validity_seconds)
    progress = DeliveryProgress(
        valid_until=valid_until,
        units_booked=sum(line.units for line in lines),
        voucher_eur=s.status.aid.voucher_eur if s.status.aid else Decimal(0),
    )
    s.status.delivery = progress
    conv.enter(Stage.VOUCHER_ISSUED)

    def woken() -> bool:
        return s.has(m.DELIVERY_RECORDED, m.ALLOCATION_INVALIDATED) or s.cancelled is not None

    why: str | None = None
    while why is None:
        try:
            left = max(valid_until - workflow.now(), timedelta(seconds=1))
            await conv.wait(woken, within=left, settle=True)
        except TimeoutError:
            why = f"expired on {valid_until:%Y-%m-%d}"
            break
        if s.has(m.DELIVERY_RECORDED):
            await redeem(conv, s.take_as(m.DELIVERY_RECORDED, m.DeliveryRecorded))
            if progress.units_delivered >= progress.units_booked:
                why = "fully used"
        elif s.has(m.ALLOCATION_INVALIDATED):
            lost = s.take_as(m.ALLOCATION_INVALIDATED, m.AllocationInvalidated)
            s.held.discard(Held.BOOKING)  # the allocation service released the booking itself
            if progress.units_delivered == 0:
                # Nothing used yet: void this voucher and offer another bundle.
                await end_voucher(conv, f"voided, capacity withdrawn: {lost.reason}")
                s.status.voucher_id, s.status.delivery = None, None
                return await reallocate(conv, lost.reason)
            why = f"ended early, capacity withdrawn: {lost.reason}"
        else:
            why = s.cancelled_reason()
    await end_voucher(conv, why)
    if s.cancelled is not None:
        conv.finish(Stage.CANCELLED, [s.cancelled_reason()])
        return Next.ENDED
    return Next.ON
