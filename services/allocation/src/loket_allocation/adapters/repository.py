"""Reads and atomic writes on the capacity projection and holds."""

from __future__ import annotations

import json
from decimal import Decimal

from loket_contracts.capacity import FacilityProfile, SlotPublished, SlotWithdrawn
from loket_contracts.messages import (
    CatalogueQuery,
    CatalogueSlot,
    Flow,
    Utilisation,
    UtilisationReply,
)
from sqlalchemy import Select, and_, delete, select, update
from sqlmodel import Session, col

from loket_allocation.adapters.tables import (
    FacilityRow,
    HoldLineRow,
    HoldRow,
    OfferingRow,
    SlotRow,
)
from loket_allocation.domain.model import Candidate


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


def _live_slots() -> Select[SlotRow, OfferingRow, FacilityRow]:
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
    stmt = _live_slots().where(col(OfferingRow.service_type).in_(service_types))
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
    result = session.execute(
        update(SlotRow)
        .where(
            SlotRow.facility_id == facility_id,  # type: ignore[arg-type]
            SlotRow.slot_id == slot_id,  # type: ignore[arg-type]
            SlotRow.withdrawn.is_(False),  # type: ignore[attr-defined]
            col(SlotRow.capacity_units) - col(SlotRow.held_units) - col(SlotRow.booked_units)
            >= units,
        )
        .values(held_units=SlotRow.held_units + units)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise CapacityConflict(f"slot {facility_id}/{slot_id} no longer has {units} free units")


def move_units(session: Session, application_id: str, *, from_: str, to: str | None) -> int:
    """Move a hold's units between held/booked counters, or release them (`to=None`)."""
    lines = session.scalars(
        select(HoldLineRow).where(HoldLineRow.application_id == application_id)  # type: ignore[arg-type]
    ).all()
    total = 0
    for line in lines:
        column = getattr(SlotRow, from_)
        values = {from_: column - line.units}
        if to is not None:
            values[to] = getattr(SlotRow, to) + line.units
        session.execute(
            update(SlotRow)
            .where(
                SlotRow.facility_id == line.facility_id,  # type: ignore[arg-type]
                SlotRow.slot_id == line.slot_id,  # type: ignore[arg-type]
            )
            .values(**values)
        )
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
            session.execute(
                update(SlotRow)
                .where(
                    col(SlotRow.facility_id) == line.facility_id,
                    col(SlotRow.slot_id) == line.slot_id,
                )
                .values(booked_units=SlotRow.booked_units - unused)
            )
        released += unused
        delivered += line.delivered_units
    return released, delivered


def catalogue(session: Session, q: CatalogueQuery) -> tuple[list[CatalogueSlot], bool]:
    """The single access point: offerings and free capacity, filtered as the user asks; the
    page from `q.offset`, and whether more follow."""
    stmt = _live_slots().order_by(
        col(SlotRow.start), col(SlotRow.facility_id), col(SlotRow.slot_id)
    )
    if q.service_type:
        stmt = stmt.where(col(OfferingRow.service_type) == q.service_type)
    if q.country:
        stmt = stmt.where(col(FacilityRow.country) == q.country)
    if q.kind:
        stmt = stmt.where(col(FacilityRow.kind) == q.kind)
    if q.from_time:
        stmt = stmt.where(col(SlotRow.start) >= q.from_time)
    if q.to_time:
        stmt = stmt.where(col(SlotRow.end) <= q.to_time)
    out: list[CatalogueSlot] = []
    skip = q.offset
    for slot, offering, facility in session.execute(stmt).all():
        modes = json.loads(offering.access_modes)
        areas = json.loads(facility.priority_areas)
        free = slot.capacity_units - slot.held_units - slot.booked_units
        if (
            (q.access_mode and q.access_mode not in modes)
            or (q.priority_area and q.priority_area not in areas)
            or (q.only_free and free <= 0)
        ):
            continue
        if slot.start is None or slot.end is None:
            continue
        if skip:
            skip -= 1
            continue
        if len(out) == q.limit:
            return out, True
        out.append(
            CatalogueSlot(
                facility_id=facility.facility_id,
                facility_name=facility.name,
                site=facility.site,
                country=facility.country,
                kind=facility.kind,
                legal_form=facility.legal_form,
                priority_areas=areas,
                offering_id=offering.offering_id,
                service_type=offering.service_type,
                unit=offering.unit,
                market_price_eur=offering.market_price_eur,
                access_modes=modes,
                slot_id=slot.slot_id,
                start=slot.start,
                end=slot.end,
                capacity_units=slot.capacity_units,
                free_units=max(0, free),
            )
        )
    return out, False


def _ratio(booked: int, published: int) -> Decimal:
    return (
        (Decimal(booked) / Decimal(published)).quantize(Decimal("0.0001"))
        if published
        else (Decimal(0))
    )


def utilisation(session: Session, offset: int = 0, limit: int = 1000) -> UtilisationReply:
    """Published, held and booked units per facility and per country, and cross-border flows."""
    facilities: dict[str, list[int]] = {}
    for slot in session.scalars(select(SlotRow).where(col(SlotRow.withdrawn).is_(False))).all():
        f = facilities.setdefault(slot.facility_id, [0, 0, 0])
        f[0] += slot.capacity_units
        f[1] += slot.held_units
        f[2] += slot.booked_units
    rows = {r.facility_id: r for r in session.scalars(select(FacilityRow)).all()}
    per_facility = [
        Utilisation(
            key=fid,
            name=rows[fid].name if fid in rows else fid,
            country=rows[fid].country if fid in rows else "",
            published_units=p,
            held_units=h,
            booked_units=b,
            utilisation=_ratio(b, p),
        )
        for fid, (p, h, b) in sorted(facilities.items())
    ]
    countries: dict[str, list[int]] = {}
    for u in per_facility:
        c = countries.setdefault(u.country, [0, 0, 0])
        c[0] += u.published_units
        c[1] += u.held_units
        c[2] += u.booked_units
    per_country = [
        Utilisation(
            key=c,
            name=c,
            country=c,
            published_units=p,
            held_units=h,
            booked_units=b,
            utilisation=_ratio(b, p),
        )
        for c, (p, h, b) in sorted(countries.items())
    ]
    # bookings = distinct applications per (applicant country, facility country); units summed
    applications: dict[tuple[str, str], set[str]] = {}
    units_moved: dict[tuple[str, str], int] = {}
    value_moved: dict[tuple[str, str], Decimal] = {}
    booked = session.execute(
        select(
            col(HoldRow.application_id),
            col(HoldRow.applicant_country),
            col(HoldLineRow.facility_id),
            col(HoldLineRow.units),
            col(HoldLineRow.market_price_eur),
        )
        .join(HoldLineRow, col(HoldLineRow.application_id) == col(HoldRow.application_id))
        # A booking stays a flow once delivered (completed): it happened.
        .where(col(HoldRow.status).in_(("confirmed", "completed")))
    ).all()
    for application_id, applicant_country, facility_id, units, price in booked:
        pair = (applicant_country, rows[facility_id].country if facility_id in rows else "?")
        applications.setdefault(pair, set()).add(application_id)
        units_moved[pair] = units_moved.get(pair, 0) + units
        value_moved[pair] = value_moved.get(pair, Decimal(0)) + units * (price or Decimal(0))
    flows = {
        pair: (len(apps), units_moved[pair], value_moved[pair])
        for pair, apps in applications.items()
    }
    return UtilisationReply(
        facilities=per_facility[offset : offset + limit],
        next_offset=offset + limit if len(per_facility) > offset + limit else None,
        countries=per_country,
        flows=[
            Flow(applicant_country=a, facility_country=t, bookings=n, units=u, market_value_eur=v)
            for (a, t), (n, u, v) in sorted(flows.items())
        ],
    )
