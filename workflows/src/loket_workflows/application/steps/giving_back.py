"""Giving back what the application holds: the voucher and its booking (the unused part),
slot holds, aid headroom and budget. Every step is idempotent in its service, and what is
held is recorded before the step that takes it, so a worker that dies redoes at most a
harmless release."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from loket_contracts import commands as c
    from loket_contracts import messages as m
    from loket_contracts.application import Stage

    from loket_workflows.application.conversation import Conversation
    from loket_workflows.application.dto import SendCommand
    from loket_workflows.application.state import Held, Next

MAX_REALLOCATIONS = 3


async def compensate(conv: Conversation) -> None:
    """Latest first. The hold and the reservation are released together: one send, two
    answers."""
    s = conv.s
    if s.held & {Held.BOOKING, Held.VOUCHER}:
        await end_voucher(conv, s.cancelled_reason() if s.cancelled is not None else "ended early")
    releases: list[tuple[Held, c.Command, SendCommand]] = []
    if Held.HOLD in s.held:
        ref = m.AllocationRef(application_id=s.app_id)
        releases.append(
            (Held.HOLD, c.RELEASE_HOLD, conv.queue(c.RELEASE_HOLD, "release-hold", ref))
        )
    if Held.RESERVATION in s.held:
        voucher = m.VoucherRef(application_id=s.app_id)
        sent = conv.queue(c.RELEASE_RESERVATION, "release-reservation", voucher)
        releases.append((Held.RESERVATION, c.RELEASE_RESERVATION, sent))
    for held, command, sent in releases:  # the first wait sends both
        await conv.receive(command.answers, [sent], cancellable=False)
        s.held.discard(held)


async def reallocate(conv: Conversation, reason: str) -> Next:
    """Capacity under the offer was withdrawn: give the aid back, offer a new bundle."""
    s = conv.s
    s.held.discard(Held.HOLD)  # the allocation service released the bundle itself
    await compensate(conv)
    s.status.reasons = [f"re-allocating: {reason}"]
    s.forget_terms()
    s.offer += 1
    if s.offer > MAX_REALLOCATIONS:
        conv.finish(Stage.FAILED, [f"capacity withdrawn {s.offer} times; last: {reason}"])
        return Next.ENDED
    conv.notify(
        "applicant",
        "reallocating",
        f"{reason}. We are looking for another bundle; new terms will follow.",
    )
    return Next.REOFFER


async def redeem(conv: Conversation, recorded: m.DeliveryRecorded) -> None:
    """A facility delivered: the voucher pays for it."""
    redemption = m.Redemption(
        application_id=recorded.application_id,
        delivery_id=recorded.delivery_id,
        units=recorded.units,
        market_value_eur=recorded.market_value_eur,
    )
    redeemed = await conv.ask(
        c.REDEEM,
        f"redeem-{recorded.delivery_id}",
        redemption,
        m.VoucherRedeemed,
        cancellable=False,
    )
    progress = conv.s.status.delivery
    assert progress is not None
    progress.units_delivered = recorded.units_delivered_total
    progress.redeemed_eur = redeemed.redeemed_total_eur
    if progress.last_delivery_at is None or recorded.delivered_at > progress.last_delivery_at:
        progress.last_delivery_at = recorded.delivered_at


async def end_voucher(conv: Conversation, why: str) -> None:
    """Undelivered units back to the facilities, deliveries recorded until then paid, the
    voucher closed with the aid corrected. Booking first: once it is closed no delivery can
    be recorded any more, so every recorded one is already in the inbox (same partition)."""
    s = conv.s
    if Held.BOOKING in s.held:
        closing = m.BookingClose(application_id=s.app_id, reason=why)
        closed = await conv.ask(
            c.CLOSE_BOOKING, "close-booking", closing, m.BookingClosed, cancellable=False
        )
        s.held.discard(Held.BOOKING)
        if closed.units_released:
            for facility_id in sorted({line.facility_id for line in s.status.allocation}):
                conv.notify(
                    "facility",
                    "booking_ended",
                    f"voucher {s.status.voucher_id} {why}: undelivered units are free again.",
                    facility_id=facility_id,
                )
    while s.has(m.DELIVERY_RECORDED):
        await redeem(conv, s.take_as(m.DELIVERY_RECORDED, m.DeliveryRecorded))
    if Held.VOUCHER in s.held:
        closing_voucher = m.VoucherClose(application_id=s.app_id, reason=why)
        closed_voucher = await conv.ask(
            c.CLOSE_VOUCHER, "close-voucher", closing_voucher, m.VoucherClosed, cancellable=False
        )
        s.held.discard(Held.VOUCHER)
        progress = s.status.delivery
        if progress is not None:
            progress.closed_reason = closed_voucher.reason
            progress.released_eur = closed_voucher.released_eur
            progress.aid_recorded_eur = closed_voucher.aid_recorded_eur
        if s.status.aid is not None:
            s.status.aid.aid_element_eur = closed_voucher.aid_recorded_eur
