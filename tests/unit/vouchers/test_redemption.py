"""Paying deliveries from a voucher and closing it: the cents add up, the aid follows use."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from loket_vouchers.domain.redemption import RedemptionRefused, close_voucher, redemption_amount


@given(
    unit_prices=st.lists(st.integers(min_value=1, max_value=90_000), min_size=1, max_size=12),
    share=st.integers(min_value=1, max_value=100),
)
def test_deliveries_pay_exactly_the_voucher_when_everything_is_delivered(
    unit_prices: list[int], share: int
) -> None:
    market_total = Decimal(sum(unit_prices))
    voucher = (market_total * share / 100).quantize(Decimal("0.01"))
    paid = market_before = Decimal(0)
    for price in unit_prices:  # one delivery per unit, in any order of prices
        amount = redemption_amount(voucher, market_total, market_before, paid, Decimal(price))
        assert amount >= 0
        paid += amount
        market_before += price
        assert paid <= voucher
    assert paid == voucher


def test_more_than_the_voucher_covers_is_refused() -> None:
    with pytest.raises(RedemptionRefused, match="exceed"):
        redemption_amount(Decimal(6000), Decimal(6000), Decimal(3000), Decimal(3000), Decimal(6000))


def test_closing_records_the_aid_used_and_gives_the_rest_back() -> None:
    closure = close_voucher(Decimal(8000), Decimal(2000), aid_follows_use=True, why="expired")
    assert (closure.aid_recorded_eur, closure.released_eur) == (Decimal(2000), Decimal(6000))
    assert "€6,000.00 unused goes back" in closure.reason


def test_a_scheme_may_keep_the_aid_granted_at_issuance() -> None:
    closure = close_voucher(Decimal(8000), Decimal(2000), aid_follows_use=False, why="expired")
    assert (closure.aid_recorded_eur, closure.released_eur) == (Decimal(8000), Decimal(0))
