"""State-aid screening: de minimis (Reg. 2023/2831 Art. 3(2)) and GBER Art. 28 intensities."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from loket_contracts.scheme import load_scheme
from loket_vouchers.domain.state_aid import LedgerEntry, aid_element, fits_at_grant, screen

SCHEME = load_scheme("pilot-2026")
TODAY = date(2026, 11, 28)


def dm(amount: int, on: date = TODAY - timedelta(days=100)) -> LedgerEntry:
    return LedgerEntry(on, Decimal(amount), "de_minimis")


def a28(amount: int, on: date = TODAY - timedelta(days=100)) -> LedgerEntry:
    return LedgerEntry(on, Decimal(amount), "gber_art28")


def run(value: int, ledger: list[LedgerEntry], payment: int = 0, sme: bool = True):
    return screen(Decimal(value), Decimal(payment), ledger, TODAY, sme, SCHEME)


def test_aid_element_is_market_value_minus_payment() -> None:
    # R&D&I Framework 2022/C 414/01: access at market price carries no aid.
    assert aid_element(Decimal(12_000), Decimal(2_000)) == Decimal(10_000)
    assert aid_element(Decimal(12_000), Decimal(15_000)) == 0
    assert run(8_000, [], payment=8_000).instrument == "no_aid"


@pytest.mark.parametrize(
    ("prior", "aid", "instrument"),
    [
        (290_000, 10_000, "de_minimis"),  # exactly €300,000 in the window: allowed
        (290_001, 10_000, "gber_art28"),  # one euro over: no de minimis at all (no partial use)
        (0, 300_000, "de_minimis"),
        (0, 300_001, "gber_art28"),
    ],
)
def test_de_minimis_ceiling_edges_reg_2023_2831_art_3_2(
    prior: int, aid: int, instrument: str
) -> None:
    result = run(aid, [dm(prior)])
    assert result.instrument == instrument
    if instrument == "gber_art28":
        assert "all or nothing" in result.reason


def test_aid_three_years_and_one_day_ago_no_longer_counts() -> None:
    assert run(50_000, [dm(299_000, date(2023, 11, 27))]).instrument == "de_minimis"


def test_window_edge_three_years_to_the_day() -> None:
    # The three years ending on the grant date run from the day after the same date 3 years ago.
    assert run(50_000, [dm(299_000, date(2023, 11, 28))]).instrument == "de_minimis"
    assert run(50_000, [dm(299_000, date(2023, 11, 29))]).instrument == "gber_art28"


def test_art_28_at_100_percent_while_within_the_cap_gber_art_28_3() -> None:
    result = run(20_000, [dm(295_000), a28(200_000)])  # 200k + 20k = 220k: exactly the cap
    assert (result.instrument, result.intensity) == ("gber_art28", Decimal(1))
    assert result.aid_element_eur == Decimal(20_000) and result.co_payment_eur == 0
    assert "Art. 28(3)" in result.legal_source


def test_art_28_above_the_cap_is_50_percent_with_the_co_payment_stated() -> None:
    result = run(20_000, [dm(295_000), a28(200_001)])
    assert (result.instrument, result.intensity) == ("gber_art28", Decimal("0.5"))
    assert result.aid_element_eur == Decimal(10_000)
    assert result.co_payment_eur == Decimal(10_000)
    assert "co-payment by the applicant €10,000.00" in result.reason


def test_art_28_50_percent_never_exceeds_the_requested_aid() -> None:
    result = run(20_000, [dm(300_000), a28(220_000)], payment=15_000)  # aid element 5,000
    assert result.aid_element_eur == Decimal(5_000)
    assert result.co_payment_eur == Decimal(15_000)


def test_not_an_sme_and_no_de_minimis_room_goes_to_manual_review() -> None:
    result = run(50_000, [dm(299_000)], sme=False)
    assert result.instrument == "manual_review"
    assert result.aid_element_eur == 0
    assert "SMEs only" in result.reason


# ---- pilot-2026-r2 -------------------------------------------------------------------------

R2 = load_scheme("pilot-2026-r2")


@pytest.mark.parametrize(("prior", "instrument"), [(290_000, "de_minimis"), (290_001, "refused")])
def test_in_difficulty_de_minimis_or_nothing_gber_1_4_c(prior: int, instrument: str) -> None:
    result = screen(
        Decimal(10_000), Decimal(0), [dm(prior)], TODAY, True, R2, frozenset({"gber_art28"})
    )
    assert result.instrument == instrument
    if instrument == "refused":
        assert "Art. 1(4)(c)" in result.legal_source and "no aid can be granted" in result.reason


@pytest.mark.parametrize(
    ("granted", "aid", "fits"),
    [
        (290_000, 10_000, True),  # exactly the ceiling on the grant date
        (290_000, Decimal("10000.01"), False),
        (0, 300_000, True),
    ],
)
def test_checked_again_at_the_grant_reg_2023_2831_art_3_3(
    granted: int, aid: int | Decimal, fits: bool
) -> None:
    check = fits_at_grant(Decimal(aid), [dm(granted)], TODAY, R2)
    assert check.fits is fits
    assert check.headroom_eur == Decimal(300_000 - granted)


def test_at_the_grant_the_three_years_end_on_the_grant_date() -> None:
    # Aid granted three years and a day before the grant has left the window by then.
    old = dm(299_000, date(2023, 11, 28))
    assert fits_at_grant(Decimal(50_000), [old], TODAY, R2).fits
    assert not fits_at_grant(Decimal(50_000), [old], TODAY - timedelta(days=1), R2).fits
