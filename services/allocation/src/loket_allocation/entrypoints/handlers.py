"""Kafka entrypoints of the allocation service: capacity projection, holds, expiry."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from loket_contracts import capacity as cap
from loket_contracts import messages as m
from loket_contracts import topics
from loket_contracts.envelope import CloudEvent
from loket_contracts.scheme import Scheme, load_scheme
from loket_messaging import Emitter, Outgoing, ServiceRuntime
from loket_messaging.clock import utcnow
from loket_messaging.failures import Rejected
from loket_messaging.handlers import SchemeHandlers
from sqlalchemy import select
from sqlmodel import Session

from loket_allocation.adapters import repository as repo
from loket_allocation.adapters.tables import DeliveryRow, HoldLineRow, HoldRow, SlotRow
from loket_allocation.domain.batch import BatchRequest, solve_round
from loket_allocation.domain.model import Choice, NoAllocation
from loket_allocation.domain.online import best_fit

SOURCE = "loket/allocation"
EXPIRY_SWEEP_S = 5.0


emit = Emitter(topics.ALLOCATION_EVENTS, SOURCE)
reply = Emitter(topics.ALLOCATION_REPLIES, SOURCE)


class AllocationHandlers(SchemeHandlers):
    """The handlers, bound to one scheme configuration (tests bind their own)."""

    # ---- facility capacity (public contract) ---------------------------------------------------

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

    def on_booking_close_requested(self, session: Session, event: CloudEvent) -> Sequence[Outgoing]:
        """The voucher ended: undelivered units go back to the facilities."""
        cmd = event.decode(m.BookingClose)
        hold = session.get(HoldRow, cmd.application_id)
        released = delivered = 0
        if hold is not None and hold.status == "confirmed":
            released, delivered = repo.release_undelivered(session, cmd.application_id)
            hold.status = "completed"
            session.add(hold)
        elif hold is not None:
            delivered = sum(
                line.delivered_units for line in repo.booking_lines(session, hold.application_id)
            )
        body = m.BookingClosed(
            application_id=cmd.application_id,
            units_delivered=delivered,
            units_released=released,
            reason=cmd.reason,
        )
        return [emit(m.BOOKING_CLOSED, body, cmd.application_id)]

    # ---- holds -----------------------------------------------------------------------------------

    def on_hold_requested(self, session: Session, event: CloudEvent) -> Sequence[Outgoing]:
        cmd = event.decode(m.HoldRequested)
        existing = session.get(HoldRow, cmd.application_id)
        if existing is not None and existing.status in ("held", "confirmed"):
            # Idempotent by application id: the same hold again.
            placed = m.HoldPlaced.model_validate_json(existing.placed_json)
            return [emit(m.HOLD_PLACED, placed, cmd.application_id)]
        result = best_fit(
            cmd.needs,
            repo.candidates(session, {n.service_type for n in cmd.needs}),
            cmd.applicant_workplace_country,
            frozenset(self.scheme.allocation.transnational_exempt_legal_forms.value),
        )
        if isinstance(result, NoAllocation):
            return [
                emit(
                    m.HOLD_FAILED,
                    m.HoldFailed(application_id=cmd.application_id, reason=result.reason),
                    cmd.application_id,
                )
            ]
        return [self._place_hold(session, cmd, result.choices, result.reason, existing)]

    def _place_hold(
        self,
        session: Session,
        cmd: m.HoldRequested,
        choices: list[Choice],
        reason: str,
        existing: HoldRow | None,
    ) -> Outgoing:
        """Take the chosen units off the market (atomically per slot) and record the hold."""
        expires_at = utcnow() + timedelta(seconds=cmd.hold_ttl_seconds)
        lines: list[m.AllocatedLine] = []
        for choice in choices:
            c = choice.candidate
            repo.hold_units(session, c.facility_id, c.slot_id, choice.units)
            session.add(
                HoldLineRow(
                    application_id=cmd.application_id,
                    facility_id=c.facility_id,
                    slot_id=c.slot_id,
                    units=choice.units,
                    market_price_eur=c.market_price_eur,
                )
            )
            lines.append(
                m.AllocatedLine(
                    facility_id=c.facility_id,
                    facility_name=c.facility_name,
                    site=c.site,
                    country=c.country,
                    kind=c.kind,
                    offering_id=c.offering_id,
                    slot_id=c.slot_id,
                    service_type=c.service_type,
                    unit=c.unit,
                    units=choice.units,
                    start=c.start,
                    end=c.end,
                    market_price_eur=c.market_price_eur,
                    market_value_eur=c.market_price_eur * Decimal(choice.units),
                    access_mode=cmd.needs[choice.need_index].access_mode,
                )
            )
        placed = m.HoldPlaced(
            application_id=cmd.application_id, expires_at=expires_at, lines=lines, reason=reason
        )
        row = existing or HoldRow(
            application_id=cmd.application_id, status="held", expires_at=expires_at, placed_json=""
        )
        row.status, row.expires_at, row.placed_json = "held", expires_at, placed.model_dump_json()
        row.applicant_country = cmd.applicant_workplace_country
        session.add(row)
        return emit(m.HOLD_PLACED, placed, cmd.application_id)

    def on_round_requested(self, session: Session, event: CloudEvent) -> Sequence[Outgoing]:
        """Batch mode at a call's cut-off: one optimal round over everyone still waiting."""
        cmd = event.decode(m.RoundRequested)
        out: list[Outgoing] = []
        pending = []
        for entry in cmd.entries:
            existing = session.get(HoldRow, entry.hold.application_id)
            if existing is not None and existing.status in ("held", "confirmed"):
                placed = m.HoldPlaced.model_validate_json(existing.placed_json)
                out.append(emit(m.HOLD_PLACED, placed, entry.hold.application_id))
            else:
                pending.append(entry)
        types = {n.service_type for e in pending for n in e.hold.needs}
        result = solve_round(
            [
                BatchRequest(
                    e.hold.application_id,
                    e.hold.applicant_workplace_country,
                    e.hold.needs,
                    e.weight,
                )
                for e in pending
            ],
            repo.candidates(session, types),
            exempt_forms=frozenset(self.scheme.allocation.transnational_exempt_legal_forms.value),
            country_share_cap=cmd.country_share_cap,
        )
        for entry in pending:
            app_id = entry.hold.application_id
            choices = result.served.get(app_id)
            if choices:
                reason = (
                    f"batch round {cmd.round_id}: served; the round reached "
                    f"{result.objective:g} of an LP bound of {result.lp_bound:g}"
                )
                out.append(
                    self._place_hold(
                        session, entry.hold, choices, reason, session.get(HoldRow, app_id)
                    )
                )
            else:
                failed = m.HoldFailed(
                    application_id=app_id,
                    reason=f"not served in batch round {cmd.round_id}: the "
                    "capacity went to applications of higher priority weight",
                )
                out.append(emit(m.HOLD_FAILED, failed, app_id))
        summary = m.RoundSolved(
            round_id=cmd.round_id,
            served=sorted(result.served),
            unserved=sorted(
                e.hold.application_id for e in pending if e.hold.application_id not in result.served
            ),
            objective=result.objective,
            lp_bound=result.lp_bound,
            gap=result.gap,
            status=result.status,
            solve_seconds=result.solve_seconds,
        )
        out.append(emit(m.ROUND_SOLVED, summary, cmd.round_id))
        return out

    def on_confirm_requested(self, session: Session, event: CloudEvent) -> Sequence[Outgoing]:
        cmd = event.decode(m.AllocationRef)
        hold = session.get(HoldRow, cmd.application_id)
        if hold is None or hold.status in ("released", "expired"):
            status = "missing" if hold is None else hold.status
            body = m.AllocationConfirmed(
                application_id=cmd.application_id,
                confirmed=False,
                reason=f"no hold to confirm (hold {status})",
            )
        else:
            if hold.status == "held":
                repo.move_units(session, cmd.application_id, from_="held_units", to="booked_units")
                hold.status = "confirmed"
                session.add(hold)
            body = m.AllocationConfirmed(
                application_id=cmd.application_id,
                confirmed=True,
                reason="hold confirmed as booking",
            )
        return [emit(m.ALLOCATION_CONFIRMED, body, cmd.application_id)]

    def _release(self, session: Session, hold: HoldRow, status: str) -> int:
        if hold.status == "confirmed":  # delivered units of a booking stay used
            units, _ = repo.release_undelivered(session, hold.application_id)
        else:
            units = repo.move_units(session, hold.application_id, from_="held_units", to=None)
        session.execute(
            HoldLineRow.__table__.delete().where(  # type: ignore[attr-defined]
                HoldLineRow.application_id == hold.application_id
            )
        )
        hold.status = status
        session.add(hold)
        return units

    def on_release_requested(self, session: Session, event: CloudEvent) -> Sequence[Outgoing]:
        cmd = event.decode(m.AllocationRef)
        hold = session.get(HoldRow, cmd.application_id)
        units = 0
        if hold is not None and hold.status in ("held", "confirmed"):
            units = self._release(session, hold, "released")
        body = m.AllocationReleased(application_id=cmd.application_id, units_released=units)
        return [emit(m.ALLOCATION_RELEASED, body, cmd.application_id)]

    def expire_holds(self, session: Session) -> Sequence[Outgoing]:
        """Holds past their expiry give their units back (SPEC lifecycle step 3)."""
        due = session.scalars(
            select(HoldRow).where(HoldRow.status == "held", HoldRow.expires_at < utcnow())  # type: ignore[arg-type]
        ).all()
        out = []
        for hold in due:
            units = self._release(session, hold, "expired")
            reason = f"hold expired at {hold.expires_at:%Y-%m-%d %H:%M} UTC"
            body = m.AllocationReleased(
                application_id=hold.application_id, units_released=units, reason=reason
            )
            out.append(emit(m.ALLOCATION_RELEASED, body, hold.application_id))
        return out

    # ---- queries: catalogue and utilisation, answered on the replies topic ---------------------

    def on_catalogue_query(self, session: Session, event: CloudEvent) -> Sequence[Outgoing]:
        q = event.decode(m.CatalogueQuery)
        slots, truncated = repo.catalogue(session, q)
        body = m.CatalogueReply(
            slots=slots, truncated=truncated, next_offset=q.offset + q.limit if truncated else None
        )
        return [reply(m.CATALOGUE_REPLY, body, event.id)]

    def on_utilisation_query(self, session: Session, event: CloudEvent) -> Sequence[Outgoing]:
        q = event.decode(m.UtilisationQuery)
        body = repo.utilisation(session, q.offset, q.limit)
        return [reply(m.UTILISATION_REPLY, body, event.id)]


def register(runtime: ServiceRuntime, scheme: Scheme | None = None) -> AllocationHandlers:
    h = AllocationHandlers(scheme or load_scheme())  # a bad scheme stops the service here
    runtime.handle(topics.FACILITY_CAPACITY, cap.PROFILE, h.on_profile)
    runtime.handle(topics.FACILITY_CAPACITY, cap.SLOT_PUBLISHED, h.on_slot_published)
    runtime.handle(topics.FACILITY_CAPACITY, cap.SLOT_WITHDRAWN, h.on_slot_withdrawn)
    runtime.handle(topics.FACILITY_CAPACITY, cap.DELIVERY, h.on_delivery)
    runtime.ignore(topics.FACILITY_CAPACITY, cap.TERMS)  # the charter service's business
    runtime.handle(topics.ALLOCATION_COMMANDS, m.HOLD_REQUESTED, h.on_hold_requested)
    runtime.handle(topics.ALLOCATION_COMMANDS, m.ROUND_REQUESTED, h.on_round_requested)
    runtime.handle(topics.ALLOCATION_COMMANDS, m.CONFIRM_REQUESTED, h.on_confirm_requested)
    runtime.handle(topics.ALLOCATION_COMMANDS, m.RELEASE_REQUESTED, h.on_release_requested)
    runtime.handle(
        topics.ALLOCATION_COMMANDS, m.BOOKING_CLOSE_REQUESTED, h.on_booking_close_requested
    )
    runtime.handle(topics.ALLOCATION_QUERIES, m.CATALOGUE_QUERY, h.on_catalogue_query)
    runtime.handle(topics.ALLOCATION_QUERIES, m.UTILISATION_QUERY, h.on_utilisation_query)
    runtime.every(EXPIRY_SWEEP_S, h.expire_holds)
    return h
