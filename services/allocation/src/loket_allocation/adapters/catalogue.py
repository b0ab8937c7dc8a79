"""What people read of the capacity projection: the catalogue of free capacity and the
utilisation per facility, per country and across borders."""

from __future__ import annotations

import json
from decimal import Decimal

from loket_contracts.messages import (
    CatalogueQuery,
    CatalogueSlot,
    Flow,
    Utilisation,
    UtilisationReply,
)
from sqlalchemy import select
from sqlmodel import Session, col

from loket_allocation.adapters.repository import live_slots
from loket_allocation.adapters.tables import FacilityRow, HoldLineRow, HoldRow, OfferingRow, SlotRow


def catalogue(session: Session, q: CatalogueQuery) -> tuple[list[CatalogueSlot], bool]:
    """The single access point: offerings and free capacity, filtered as the user asks; the
    page from `q.offset`, and whether more follow."""
    stmt = live_slots().order_by(col(SlotRow.start), col(SlotRow.facility_id), col(SlotRow.slot_id))
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
