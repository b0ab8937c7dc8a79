"""Kafka entrypoints of the allocation service: capacity projection, holds, expiry; the batch
round (rounds.py) and the queries (queries.py) are mixed in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from loket_contracts import capacity as cap
from loket_contracts import commands as c
from loket_contracts import messages as m
from loket_contracts import topics
from loket_contracts.scheme import Scheme, load_scheme
from loket_messaging import Outgoing, ServiceRuntime
from loket_messaging.clock import utcnow
from loket_messaging.handlers import SchemeHandlers, answers
from sqlalchemy import select
from sqlmodel import Session

from loket_allocation.adapters import repository as repo
from loket_allocation.adapters.tables import HoldLineRow, HoldRow
from loket_allocation.domain.model import Choice, NoAllocation
from loket_allocation.domain.online import best_fit
from loket_allocation.entrypoints.capacity import FacilityCapacity
from loket_allocation.entrypoints.events import emit
from loket_allocation.entrypoints.queries import Queries
from loket_allocation.entrypoints.rounds import BatchRounds

EXPIRY_SWEEP_S = 5.0


class AllocationHandlers(FacilityCapacity, BatchRounds, Queries, SchemeHandlers):
    """The handlers, bound to one scheme configuration (tests bind their own): holds here;
    facilities' capacity in capacity.py, the batch round in rounds.py, the read side in
    queries.py."""

    @answers(c.CLOSE_BOOKING)
    def on_booking_close_requested(
        self, session: Session, cmd: m.BookingClose
    ) -> Sequence[Outgoing]:
        """The voucher ended: undelivered units go back to the facilities."""
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

    @answers(c.HOLD)
    def on_hold_requested(self, session: Session, cmd: m.HoldRequested) -> Sequence[Outgoing]:
        existing = session.get(HoldRow, cmd.application_id)
        if existing is not None and existing.status in ("held", "confirmed"):
            # Idempotent by application id: the same hold again.
            placed = m.HoldPlaced.model_validate_json(existing.placed_json)
            return [emit(m.HOLD_PLACED, placed, cmd.application_id)]
        if cmd.batch_call_id is not None and self.queue_for_round(session, cmd):
            return []  # answered by the call's round
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

    @answers(c.CONFIRM)
    def on_confirm_requested(self, session: Session, cmd: m.AllocationRef) -> Sequence[Outgoing]:
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

    @answers(c.RELEASE_HOLD)
    def on_release_requested(self, session: Session, cmd: m.AllocationRef) -> Sequence[Outgoing]:
        self.withdraw_from_round(session, cmd.application_id)
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


def register(runtime: ServiceRuntime, scheme: Scheme | None = None) -> AllocationHandlers:
    h = AllocationHandlers(scheme or load_scheme())  # a bad scheme stops the service here
    runtime.handle(topics.FACILITY_CAPACITY, cap.PROFILE, h.on_profile)
    runtime.handle(topics.FACILITY_CAPACITY, cap.SLOT_PUBLISHED, h.on_slot_published)
    runtime.handle(topics.FACILITY_CAPACITY, cap.SLOT_WITHDRAWN, h.on_slot_withdrawn)
    runtime.handle(topics.FACILITY_CAPACITY, cap.DELIVERY, h.on_delivery)
    runtime.ignore(topics.FACILITY_CAPACITY, cap.TERMS)  # the charter service's business
    for answer in (
        h.on_hold_requested,
        h.on_round_requested,
        h.on_confirm_requested,
        h.on_release_requested,
        h.on_booking_close_requested,
    ):
        runtime.answer(answer)  # topic, type and body from the command registry
    runtime.handle(topics.ALLOCATION_QUERIES, m.CATALOGUE_QUERY, h.on_catalogue_query)
    runtime.handle(topics.ALLOCATION_QUERIES, m.UTILISATION_QUERY, h.on_utilisation_query)
    runtime.every(EXPIRY_SWEEP_S, h.expire_holds)
    return h
