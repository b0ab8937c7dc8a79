"""Facilities' capacity (the public contract): profiles, slots, withdrawals, deliveries."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from decimal import Decimal

from loket_contracts import capacity as cap
from loket_contracts import messages as m
from loket_contracts.envelope import CloudEvent
from loket_contracts.scheme import Scheme
from loket_messaging import Outgoing
from loket_messaging.failures import Rejected
from sqlmodel import Session

from loket_allocation.adapters import repository as repo
from loket_allocation.adapters.tables import DeliveryRow, HoldRow, SlotRow
from loket_allocation.entrypoints.events import emit


class FacilityCapacity:
    scheme: Scheme

    @abstractmethod
    def _release(self, session: Session, hold: HoldRow, status: str) -> int: ...

    def on_profile(self, session: Session, event: CloudEvent) -> Sequence[Outgoing]:
        body = cap.decode(event, cap.FacilityProfile)
        if not self.scheme.may_host_infrastructure(body.country):
            raise Rejected(
                f"unknown country {body.country!r}: facilities must be in an EU member "
                "state or a country associated to Horizon Europe"
            )
        repo.apply_profile(session, body)
        return []

    def on_slot_published(self, session: Session, event: CloudEvent) -> Sequence[Outgoing]:
        body = cap.decode(event, cap.SlotPublished)
        if not repo.apply_slot_published(session, body):
            return []
        slot = session.get(SlotRow, (body.facility_id, body.slot_id))
        assert slot is not None
        out: list[Outgoing] = []
        # Capacity shrunk under existing holds or bookings: newest first lose their place.
        for hold in repo.holds_on_slot(session, body.facility_id, body.slot_id):
            if slot.held_units + slot.booked_units <= slot.capacity_units:
                break
            out.append(
                self._invalidate(
                    session,
                    hold,
                    body.facility_id,
                    body.slot_id,
                    f"the facility reduced slot {body.slot_id} to {body.capacity_units} unit(s)",
                )
            )
            session.refresh(slot)
        return out

    def on_slot_withdrawn(self, session: Session, event: CloudEvent) -> Sequence[Outgoing]:
        body = cap.decode(event, cap.SlotWithdrawn)
        if not repo.apply_slot_withdrawn(session, body):
            return []
        return [
            self._invalidate(
                session,
                hold,
                body.facility_id,
                body.slot_id,
                f"the facility withdrew slot {body.slot_id}: {body.reason}",
            )
            for hold in repo.holds_on_slot(session, body.facility_id, body.slot_id)
        ]

    def _invalidate(
        self, session: Session, hold: HoldRow, facility_id: str, slot_id: str, reason: str
    ) -> Outgoing:
        """Release the whole bundle (its other units go back to the market); tell the workflow."""
        was = hold.status
        self._release(session, hold, "invalidated")
        body = m.AllocationInvalidated(
            application_id=hold.application_id,
            facility_id=facility_id,
            slot_id=slot_id,
            was=was,
            reason=reason,
        )
        return emit(m.ALLOCATION_INVALIDATED, body, hold.application_id)

    def on_delivery(self, session: Session, event: CloudEvent) -> Sequence[Outgoing]:
        """A facility reports units delivered under a booking. Checked against the booking: the
        units were booked at this facility and slot, and never more than booked. A report the
        booking cannot take is refused to the DLQ with the reason; a repeat changes nothing."""
        body = cap.decode(event, cap.Delivery)
        if session.get(DeliveryRow, (body.facility_id, body.sequence)) is not None:
            return []  # the same report again (sequence is per facility)
        hold = session.get(HoldRow, body.application_id)
        if hold is None or hold.status != "confirmed":
            state = "no booking" if hold is None else f"the booking is {hold.status}"
            raise Rejected(f"delivery for {body.application_id} refused: {state}")
        booking = repo.booking_lines(session, body.application_id)
        lines = [
            line
            for line in booking
            if line.facility_id == body.facility_id and line.slot_id == body.slot_id
        ]
        if not lines:
            raise Rejected(
                f"delivery for {body.application_id} refused: nothing booked at "
                f"{body.facility_id} slot {body.slot_id}"
            )
        open_units = sum(line.units - line.delivered_units for line in lines)
        if body.units_delivered > open_units:
            raise Rejected(
                f"delivery for {body.application_id} refused: {body.units_delivered} unit(s) "
                f"reported, {open_units} still booked at {body.facility_id} slot {body.slot_id}"
            )
        remaining, value = body.units_delivered, Decimal(0)
        for line in lines:
            take = min(remaining, line.units - line.delivered_units)
            line.delivered_units += take
            value += line.market_price_eur * take
            remaining -= take
            session.add(line)
        session.add(
            DeliveryRow(
                facility_id=body.facility_id,
                sequence=body.sequence,
                application_id=body.application_id,
                slot_id=body.slot_id,
                units_delivered=body.units_delivered,
                delivered_at=body.delivered_at,
            )
        )
        recorded = m.DeliveryRecorded(
            application_id=body.application_id,
            delivery_id=f"{body.facility_id}/{body.sequence}",
            facility_id=body.facility_id,
            slot_id=body.slot_id,
            units=body.units_delivered,
            market_value_eur=value,
            delivered_at=body.delivered_at,
            units_delivered_total=sum(line.delivered_units for line in booking),
            units_booked_total=sum(line.units for line in booking),
        )
        return [emit(m.DELIVERY_RECORDED, recorded, body.application_id)]
