"""De minimis screening: Reg. (EU) 2023/2831 Art. 3(2), €300,000 over any three years."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from loket_vouchers.domain.scheme import PILOT_2026
from loket_vouchers.domain.state_aid import LedgerEntry, aid_element, screen

TODAY = date(2026, 11, 28)


def test_aid_element_is_market_value_minus_payment() -> None:
    # R&D&I Framework 2022/C 414/01: access at market price carries no aid.
    assert aid_element(Decimal(12_000), Decimal(2_000)) == Decimal(10_000)
    assert aid_element(Decimal(12_000), Decimal(15_000)) == 0


@pytest.mark.parametrize(
    ("prior", "aid", "instrument"),
    [
        (290_000, 10_000, "de_minimis"),  # exactly €300,000 in the window: allowed
        (290_001, 10_000, "refused"),  # one euro over: no de minimis at all (no partial use)
        (0, 300_000, "de_minimis"),
        (0, 300_001, "refused"),
    ],
)
def test_ceiling_edges(prior: int, aid: int, instrument: str) -> None:
    ledger = [LedgerEntry(TODAY - timedelta(days=100), Decimal(prior))]
    result = screen(Decimal(aid), Decimal(0), ledger, TODAY, PILOT_2026)
    assert result.instrument == instrument
    if instrument == "refused":
        assert "cannot be used in part" in result.reason
        assert result.headroom_after_eur == result.headroom_before_eur


def test_aid_three_years_and_one_day_ago_no_longer_counts() -> None:
    old = LedgerEntry(date(2023, 11, 27), Decimal(299_000))  # 3 years and 1 day before
    assert screen(Decimal(50_000), Decimal(0), [old], TODAY, PILOT_2026).instrument == "de_minimis"


def test_aid_exactly_three_years_ago_no_longer_counts_but_the_day_after_does() -> None:
    # The rolling window ending on the grant date covers the three years before it.
    on_edge = LedgerEntry(date(2023, 11, 28), Decimal(299_000))
    inside = LedgerEntry(date(2023, 11, 29), Decimal(299_000))
    assert (
        screen(Decimal(50_000), Decimal(0), [on_edge], TODAY, PILOT_2026).instrument == "de_minimis"
    )
    assert screen(Decimal(50_000), Decimal(0), [inside], TODAY, PILOT_2026).instrument == "refused"


def test_full_payment_means_no_aid() -> None:
    result = screen(Decimal(8_000), Decimal(8_000), [], TODAY, PILOT_2026)
    assert result.instrument == "no_aid"
    assert result.aid_element_eur == 0
