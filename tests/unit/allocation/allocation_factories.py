"""Builders shared by the allocation unit tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st
from loket_allocation.domain.batch import BatchRequest
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


# Small random rounds for property tests: few countries, types and days, so that needs compete.
COUNTRIES = ("FR", "DE", "PT")
TYPES = ("xray", "litho", "beam")
MODES = (("physical",), ("remote",), ("physical", "remote"))


@st.composite
def slots(draw: st.DrawFn) -> list[Candidate]:
    out = []
    for i in range(draw(st.integers(0, 12))):
        start = draw(st.integers(0, 6))  # shared starts: the price decides
        out.append(
            replace(
                slot(
                    f"f{i % 4}",
                    draw(st.sampled_from(COUNTRIES)),
                    draw(st.sampled_from(TYPES)),
                    draw(st.integers(0, 4)),
                    day=start,
                    price=draw(st.sampled_from([500, 1000])),
                    sid=f"s{i}",
                    legal_form=draw(st.sampled_from([None, "ERIC"])),
                    days=draw(st.integers(1, 5)),
                ),
                access_modes=draw(st.sampled_from(MODES)),
            )
        )
    return out


@st.composite
def requests(draw: st.DrawFn) -> list[BatchRequest]:
    out = []
    for r in range(draw(st.integers(0, 6))):
        needs = []
        for _ in range(draw(st.integers(1, 3))):
            first = draw(st.integers(0, 6))
            needs.append(
                Need(
                    service_type=draw(st.sampled_from((*TYPES, "none"))),
                    units=draw(st.integers(1, 3)),
                    earliest_start=T0 + timedelta(days=first),
                    latest_end=T0 + timedelta(days=first + draw(st.integers(1, 10))),
                    access_mode=draw(st.sampled_from(("physical", "remote"))),
                )
            )
        out.append(BatchRequest(f"r{r}", draw(st.sampled_from(COUNTRIES)), needs))
    return out
