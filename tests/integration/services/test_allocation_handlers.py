"""Allocation: capacity projection under duplicates and reordering, holds, expiry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from loket_allocation.adapters.tables import HoldRow, SlotRow
from loket_allocation.entrypoints.handlers import AllocationHandlers
from loket_contracts import capacity as cap
from loket_contracts import messages as m
from loket_contracts.envelope import CloudEvent, EnvelopeError, make_event
from loket_contracts.scheme import load_scheme
from loket_messaging import Outgoing
from loket_messaging.db import unit_of_work
from loket_messaging.failures import Rejected
from loket_messaging.handlers import invoke
from pydantic import BaseModel
from sqlalchemy import Engine

h = AllocationHandlers(load_scheme())

T0 = datetime(2027, 5, 3, 8, tzinfo=UTC)


def facility_event(type_: str, body: BaseModel) -> CloudEvent:
    return make_event(source="facility/fr-1", type_=type_, body=body)


def apply(
    engine: Engine, handler: Callable[..., Sequence[Outgoing]], event: CloudEvent
) -> Sequence[Outgoing]:
    """As the runtime calls it: a command's handler gets the decoded body."""
    with unit_of_work(engine) as session:
        return invoke(handler, session, event)


def slot(seq: int, units: int) -> CloudEvent:
    return facility_event(
        cap.SLOT_PUBLISHED,
        cap.SlotPublished(
            facility_id="fr-1",
            sequence=seq,
            slot_id="s1",
            offering_id="o1",
            start=T0,
            end=T0 + timedelta(days=2),
            capacity_units=units,
        ),
    )


def withdraw(seq: int) -> CloudEvent:
    return facility_event(
        cap.SLOT_WITHDRAWN,
        cap.SlotWithdrawn(facility_id="fr-1", sequence=seq, slot_id="s1", reason="maintenance"),
    )


def profile() -> CloudEvent:
    return facility_event(
        cap.PROFILE,
        cap.FacilityProfile(
            facility_id="fr-1",
            sequence=1,
            name="Beamline",
            site="Grenoble",
            country="FR",
            kind="RI",
            offerings=[
                cap.Offering(
                    offering_id="o1",
                    service_type="beamtime.x",
                    unit="shift",
                    market_price_eur=4000,
                    access_modes=["physical"],
                )
            ],
        ),
    )


def hold_cmd(app_id: str, units: int, country: str = "AT") -> m.HoldRequested:
    return m.HoldRequested(
        application_id=app_id,
        applicant_workplace_country=country,
        needs=[
            m.Need(
                service_type="beamtime.x",
                units=units,
                earliest_start=T0,
                latest_end=T0 + timedelta(days=5),
            )
        ],
        hold_ttl_seconds=3600,
    )


def hold(app_id: str, units: int, country: str = "AT") -> CloudEvent:
    cmd = hold_cmd(app_id, units, country)
    return make_event(source="test", type_=m.HOLD_REQUESTED, body=cmd, correlation_id=app_id)


def ref(type_: str, app_id: str) -> CloudEvent:
    return make_event(source="test", type_=type_, body=m.AllocationRef(application_id=app_id))


def slot_row(engine: Engine) -> SlotRow:
    with unit_of_work(engine) as session:
        row = session.get(SlotRow, ("fr-1", "s1"))
        assert row is not None
        return row


def test_stale_update_never_overwrites_a_newer_one(engine: Engine) -> None:
    apply(engine, h.on_slot_published, slot(5, units=8))
    apply(engine, h.on_slot_published, slot(3, units=2))  # older, arrives late
    apply(engine, h.on_slot_published, slot(5, units=99))  # duplicate sequence
    row = slot_row(engine)
    assert (row.capacity_units, row.published_sequence) == (8, 5)


def test_withdrawal_is_never_resurrected_by_an_older_publish(engine: Engine) -> None:
    apply(engine, h.on_slot_withdrawn, withdraw(7))  # withdrawal overtakes the publish
    apply(engine, h.on_slot_published, slot(6, units=4))
    assert slot_row(engine).withdrawn


def test_hold_is_idempotent_by_application_and_expiry_frees_the_units(engine: Engine) -> None:
    apply(engine, h.on_profile, profile())
    apply(engine, h.on_slot_published, slot(2, units=3))
    [placed] = apply(engine, h.on_hold_requested, hold("app-1", 2))
    assert placed.event.type == m.HOLD_PLACED
    [again] = apply(engine, h.on_hold_requested, hold("app-1", 2))  # a retried command
    assert again.event.data == placed.event.data
    assert slot_row(engine).held_units == 2
    [failed] = apply(engine, h.on_hold_requested, hold("app-2", 2))  # only 1 unit left
    assert failed.event.type == m.HOLD_FAILED

    with unit_of_work(engine) as session:  # the hold's expiry passes
        row = session.get(HoldRow, "app-1")
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    with unit_of_work(engine) as session:
        [released] = h.expire_holds(session)
    body = released.event.decode(m.AllocationReleased)
    assert body.units_released == 2 and "expired" in body.reason
    assert slot_row(engine).held_units == 0
    [late] = apply(engine, h.on_confirm_requested, ref(m.CONFIRM_REQUESTED, "app-1"))
    assert late.event.decode(m.AllocationConfirmed).confirmed is False


def test_confirm_books_and_release_frees(engine: Engine) -> None:
    apply(engine, h.on_profile, profile())
    apply(engine, h.on_slot_published, slot(2, units=3))
    apply(engine, h.on_hold_requested, hold("app-1", 3))
    apply(engine, h.on_confirm_requested, ref(m.CONFIRM_REQUESTED, "app-1"))
    row = slot_row(engine)
    assert (row.held_units, row.booked_units) == (0, 3)
    apply(engine, h.on_release_requested, ref(m.RELEASE_REQUESTED, "app-1"))
    row = slot_row(engine)
    assert (row.held_units, row.booked_units) == (0, 0)


def test_no_hold_in_the_applicants_own_country(engine: Engine) -> None:
    apply(engine, h.on_profile, profile())
    apply(engine, h.on_slot_published, slot(2, units=3))
    [failed] = apply(engine, h.on_hold_requested, hold("app-fr", 1, country="FR"))
    assert "only offered in FR" in failed.event.decode(m.HoldFailed).reason


def test_invalid_facility_events_are_rejected_with_the_reason(engine: Engine) -> None:
    """These raise, and the runtime parks the record on the DLQ with the message as reason."""
    us = profile().model_copy(update={"data": profile().data.replace(b'"FR"', b'"US"')})
    with pytest.raises(Rejected, match="unknown country 'US'"):
        apply(engine, h.on_profile, us)
    negative = profile().model_copy(
        update={
            "data": profile().data.replace(b'"market_price_eur":4000.0', b'"market_price_eur":-5')
        }
    )
    with pytest.raises(EnvelopeError, match="market_price_eur"):
        apply(engine, h.on_profile, negative)
    weekly = profile().model_copy(
        update={"data": profile().data.replace(b'"unit":"shift"', b'"unit":"week"')}
    )
    with pytest.raises(EnvelopeError, match="unit"):
        apply(engine, h.on_profile, weekly)
    spoofed = profile().model_copy(update={"source": "facility/someone-else"})
    with pytest.raises(EnvelopeError, match="does not match facility_id"):
        apply(engine, h.on_profile, spoofed)


def delivery(seq: int, units: int, app_id: str = "app-1", slot_id: str = "s1") -> CloudEvent:
    return facility_event(
        cap.DELIVERY,
        cap.Delivery(
            facility_id="fr-1",
            sequence=seq,
            application_id=app_id,
            slot_id=slot_id,
            units_delivered=units,
            delivered_at=T0,
        ),
    )


def test_deliveries_count_against_the_booking_and_closing_frees_only_the_rest(
    engine: Engine,
) -> None:
    apply(engine, h.on_profile, profile())
    apply(engine, h.on_slot_published, slot(2, units=5))
    apply(engine, h.on_hold_requested, hold("app-1", 3))
    with pytest.raises(Rejected, match="booking is held"):  # not confirmed yet
        apply(engine, h.on_delivery, delivery(10, 1))
    apply(engine, h.on_confirm_requested, ref(m.CONFIRM_REQUESTED, "app-1"))

    [recorded] = apply(engine, h.on_delivery, delivery(11, 2))
    body = recorded.event.decode(m.DeliveryRecorded)
    assert (body.units_delivered_total, body.units_booked_total) == (2, 3)
    assert body.market_value_eur == Decimal(8000) and body.delivery_id == "fr-1/11"
    assert apply(engine, h.on_delivery, delivery(11, 2)) == []  # the same report again
    with pytest.raises(Rejected, match="2 unit"):  # more than is left of the booking
        apply(engine, h.on_delivery, delivery(12, 2))
    with pytest.raises(Rejected, match="nothing booked"):
        apply(engine, h.on_delivery, delivery(13, 1, slot_id="s9"))

    close = m.BookingClose(application_id="app-1", reason="voucher expired")
    [closed] = apply(
        engine,
        h.on_booking_close_requested,
        make_event(source="test", type_=m.BOOKING_CLOSE_REQUESTED, body=close),
    )
    assert closed.event.decode(m.BookingClosed).units_released == 1
    row = slot_row(engine)
    assert (row.booked_units, row.held_units) == (2, 0)  # delivered units stay used
    with pytest.raises(Rejected, match="booking is completed"):
        apply(engine, h.on_delivery, delivery(14, 1))
