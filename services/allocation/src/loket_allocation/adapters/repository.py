"""Reads and atomic writes on the capacity projection and holds."""

from __future__ import annotations

import functools
import json

from loket_contracts.capacity import FacilityProfile, SlotPublished, SlotWithdrawn
from sqlalchemy import Select, Table, Update, and_, bindparam, delete, select, update
from sqlmodel import Session, col

from loket_allocation.adapters.tables import (
    FacilityRow,
    HoldLineRow,
    HoldRow,
    OfferingRow,
    SlotRow,
)
from loket_allocation.domain.model import Candidate

_SLOTS: Table = SlotRow.__table__  # type: ignore[attr-defined]
# Every hold, booking and release changes a slot's counters: statements built once and run with
# parameters (building one per call, through the ORM, cost more than running it).
_UNITS = bindparam("units", type_=_SLOTS.c.held_units.type)
_SLOT = update(_SLOTS).where(
    _SLOTS.c.facility_id == bindparam("facility"), _SLOTS.c.slot_id == bindparam("slot")
)
_HOLD = _SLOT.where(
    _SLOTS.c.withdrawn.is_(False),
    _SLOTS.c.capacity_units - _SLOTS.c.held_units - _SLOTS.c.booked_units >= _UNITS,
).values(held_units=_SLOTS.c.held_units + _UNITS)


@functools.cache
def _moved(from_: str, to: str | None) -> Update:
    """Units moved from one counter of a slot to another, or released (`to=None`)."""
    values = {from_: _SLOTS.c[from_] - _UNITS}
    if to is not None:
        values[to] = _SLOTS.c[to] + _UNITS
    return _SLOT.values(values)


class CapacityConflict(Exception):
    """Capacity changed between choosing and holding; the command is retried."""


def apply_profile(session: Session, body: FacilityProfile) -> bool:
    row = session.get(FacilityRow, body.facility_id)
    if row is not None and body.sequence <= row.profile_sequence:
        return False  # stale or duplicate
    row = row or FacilityRow(facility_id=body.facility_id, name="", site="", country="", kind="")
    row.name, row.site, row.country, row.kind = body.name, body.site, body.country, body.kind
    row.legal_form = body.legal_form
    row.priority_areas = json.dumps(body.priority_areas)
    row.profile_sequence = body.sequence
    session.add(row)
    session.execute(delete(OfferingRow).where(OfferingRow.facility_id == body.facility_id))  # type: ignore[arg-type]
    for o in body.offerings:
        session.add(
            OfferingRow(
                facility_id=body.facility_id,
                offering_id=o.offering_id,
                service_type=o.service_type,
                unit=o.unit,
                market_price_eur=o.market_price_eur,  # type: ignore[arg-type]
                access_modes=json.dumps(o.access_modes),
            )
        )
    return True


def apply_slot_published(session: Session, body: SlotPublished) -> bool:
    """Newest publication wins; an older one changes nothing (it may still arrive late)."""
    row = session.get(SlotRow, (body.facility_id, body.slot_id))
    if row is not None and body.sequence <= row.published_sequence:
        return False
    row = row or SlotRow(facility_id=body.facility_id, slot_id=body.slot_id)
    row.offering_id = body.offering_id
    row.start, row.end = body.start, body.end
    row.capacity_units = body.capacity_units
    row.published_sequence = body.sequence
    row.withdrawn = row.withdrawn_sequence > row.published_sequence
    session.add(row)
    return True


def apply_slot_withdrawn(session: Session, body: SlotWithdrawn) -> bool:
    """A withdrawal beats every publication older than it, whenever either arrives."""
    row = session.get(SlotRow, (body.facility_id, body.slot_id))
    if row is not None and body.sequence <= row.withdrawn_sequence:
        return False
    row = row or SlotRow(facility_id=body.facility_id, slot_id=body.slot_id)
    row.withdrawn_sequence = body.sequence
    was_withdrawn = row.withdrawn
    row.withdrawn = row.withdrawn_sequence > row.published_sequence
    session.add(row)
    return row.withdrawn and not was_withdrawn


def holds_on_slot(session: Session, facility_id: str, slot_id: str) -> list[HoldRow]:
    """Live holds and bookings with units on this slot, newest first."""
    stmt = (
        select(HoldRow)
        .join(HoldLineRow, col(HoldLineRow.application_id) == col(HoldRow.application_id))
        .where(
            col(HoldLineRow.facility_id) == facility_id,
            col(HoldLineRow.slot_id) == slot_id,
            col(HoldRow.status).in_(("held", "confirmed")),
        )
        .order_by(col(HoldRow.created_at).desc())
    )
    return list(session.scalars(stmt).unique().all())


def live_slots() -> Select[SlotRow, OfferingRow, FacilityRow]:
    """Published, not withdrawn slots with their offering and facility."""
    return (
        select(SlotRow, OfferingRow, FacilityRow)
        .join(
            OfferingRow,
            and_(
                col(OfferingRow.facility_id) == col(SlotRow.facility_id),
                col(OfferingRow.offering_id) == col(SlotRow.offering_id),
            ),
        )
        .join(FacilityRow, col(FacilityRow.facility_id) == col(SlotRow.facility_id))
        .where(col(SlotRow.withdrawn).is_(False))
    )


def candidates(session: Session, service_types: set[str]) -> list[Candidate]:
    stmt = live_slots().where(col(OfferingRow.service_type).in_(service_types))
    out: list[Candidate] = []
    for slot, offering, facility in session.execute(stmt).all():
        free = slot.capacity_units - slot.held_units - slot.booked_units
        if free <= 0 or slot.start is None or slot.end is None:
            continue
        out.append(
            Candidate(
                facility_id=facility.facility_id,
                facility_name=facility.name,
                site=facility.site,
                country=facility.country,
                kind=facility.kind,
                legal_form=facility.legal_form,
                offering_id=offering.offering_id,
                service_type=offering.service_type,
                unit=offering.unit,
                market_price_eur=offering.market_price_eur,
                access_modes=tuple(json.loads(offering.access_modes)),
                slot_id=slot.slot_id,
                start=slot.start,
                end=slot.end,
                free_units=free,
            )
        )
    return out


def hold_units(session: Session, facility_id: str, slot_id: str, units: int) -> None:
    """Atomic conditional update: holds only if the units are still free right now."""
    result = session.execute(_HOLD, {"facility": facility_id, "slot": slot_id, "units": units})
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise CapacityConflict(f"slot {facility_id}/{slot_id} no longer has {units} free units")


def move_units(session: Session, application_id: str, *, from_: str, to: str | None) -> int:
    """Move a hold's units between held/booked counters, or release them (`to=None`)."""
    lines = session.scalars(
        select(HoldLineRow).where(HoldLineRow.application_id == application_id)  # type: ignore[arg-type]
    ).all()
    total = 0
    statement = _moved(from_, to)
    for line in lines:
        where = {"facility": line.facility_id, "slot": line.slot_id, "units": line.units}
        session.execute(statement, where)
        total += line.units
    return total


def booking_lines(session: Session, application_id: str) -> list[HoldLineRow]:
    return list(
        session.scalars(
            select(HoldLineRow)
            .where(col(HoldLineRow.application_id) == application_id)
            .order_by(col(HoldLineRow.id))
        ).all()
    )


def release_undelivered(session: Session, application_id: str) -> tuple[int, int]:
    """A booking ends: its undelivered units go back to their slots; delivered ones stay
    counted as booked (they were used). Returns (units released, units delivered)."""
    released = delivered = 0
    for line in booking_lines(session, application_id):
        unused = line.units - line.delivered_units
        if unused:
            where = {"facility": line.facility_id, "slot": line.slot_id, "units": unused}
            session.execute(_moved("booked_units", None), where)
        released += unused
        delivered += line.delivered_units
    return released, delivered
