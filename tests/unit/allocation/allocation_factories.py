"""Builders shared by the allocation unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from loket_allocation.domain.model import Candidate
from loket_contracts.messages import Need

T0 = datetime(2027, 3, 1, tzinfo=UTC)


def slot(
    fid: str,
    country: str,
    stype: str,
    free: int,
    day: int = 0,
    price: int = 1000,
    sid: str = "s1",
    legal_form: str | None = None,
    days: int = 2,
) -> Candidate:
    return Candidate(
        facility_id=fid,
        facility_name=fid,
        site=fid,
        country=country,
        kind="RI",
        legal_form=legal_form,
        offering_id="o",
        service_type=stype,
        unit="shift",
        market_price_eur=Decimal(price),
        access_modes=("physical",),
        slot_id=sid,
        start=T0 + timedelta(days=day),
        end=T0 + timedelta(days=day + days),
        free_units=free,
    )


def need(stype: str, units: int, **more: object) -> Need:
    return Need(
        service_type=stype,
        units=units,
        earliest_start=T0,
        latest_end=T0 + timedelta(days=60),
        **more,
    )
