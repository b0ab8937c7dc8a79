"""Online first-fit allocation: transnational, all-or-nothing, capacity-aware."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from loket_allocation.domain.first_fit import Allocation, Candidate, NoAllocation, first_fit
from loket_contracts.messages import Need

T0 = datetime(2027, 3, 1, tzinfo=UTC)


def slot(
    fid: str, country: str, stype: str, free: int, day: int = 0, price: int = 1000, sid: str = "s1"
) -> Candidate:
    return Candidate(
        facility_id=fid,
        facility_name=fid,
        site=fid,
        country=country,
        kind="RI",
        offering_id="o",
        service_type=stype,
        unit="shift",
        market_price_eur=Decimal(price),
        access_modes=("physical",),
        slot_id=sid,
        start=T0 + timedelta(days=day),
        end=T0 + timedelta(days=day + 2),
        free_units=free,
    )


def need(stype: str, units: int) -> Need:
    return Need(
        service_type=stype, units=units, earliest_start=T0, latest_end=T0 + timedelta(days=60)
    )


def test_never_books_in_the_applicants_own_country() -> None:
    result = first_fit([need("xray", 2)], [slot("home", "PT", "xray", 10)], "PT")
    assert isinstance(result, NoAllocation)
    assert "only offered in PT" in result.reason


def test_earliest_then_cheapest_abroad() -> None:
    cands = [
        slot("late", "FR", "xray", 10, day=9),
        slot("dear", "DE", "xray", 10, price=5000),
        slot("cheap", "ES", "xray", 10, price=900),
    ]
    result = first_fit([need("xray", 2)], cands, "PT")
    assert isinstance(result, Allocation)
    assert result.choices[0].candidate.facility_id == "cheap"


def test_bundle_is_all_or_nothing() -> None:
    cands = [slot("fr", "FR", "xray", 10)]  # nothing offers lithography
    result = first_fit([need("xray", 2), need("litho", 5)], cands, "PT")
    assert isinstance(result, NoAllocation)
    assert "litho" in result.reason


def test_two_needs_cannot_share_more_units_than_a_slot_has() -> None:
    cands = [slot("fr", "FR", "xray", 3)]
    assert isinstance(first_fit([need("xray", 2), need("xray", 2)], cands, "PT"), NoAllocation)
    assert isinstance(first_fit([need("xray", 2), need("xray", 1)], cands, "PT"), Allocation)


def test_two_country_bundle() -> None:
    cands = [slot("fr", "FR", "xray", 5), slot("be", "BE", "litho", 50)]
    result = first_fit([need("xray", 2), need("litho", 20)], cands, "AT")
    assert isinstance(result, Allocation)
    assert {c.candidate.country for c in result.choices} == {"FR", "BE"}
