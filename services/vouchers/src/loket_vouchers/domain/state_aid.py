"""State-aid screening: aid element and the de minimis test. Pure functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from loket_vouchers.domain.scheme import AidScheme

RDI_FRAMEWORK = "R&D&I Framework 2022/C 414/01, point 31: market-price access carries no aid"
DE_MINIMIS = "Regulation (EU) 2023/2831 Art. 3(2)"


@dataclass(frozen=True)
class LedgerEntry:
    granted_on: date
    amount_eur: Decimal


@dataclass(frozen=True)
class Screening:
    instrument: str  # no_aid | de_minimis | refused
    aid_element_eur: Decimal
    headroom_before_eur: Decimal
    headroom_after_eur: Decimal
    reason: str


def aid_element(market_value_eur: Decimal, applicant_payment_eur: Decimal) -> Decimal:
    """Indirect aid to the user = market price of what it gets − what it pays (never < 0)."""
    return max(Decimal(0), market_value_eur - applicant_payment_eur)


def window_start(grant_date: date, years: int) -> date:
    """First day of the rolling window that ends on `grant_date` ("any period of three years")."""
    try:
        return grant_date.replace(year=grant_date.year - years)
    except ValueError:  # 29 February
        return grant_date.replace(year=grant_date.year - years, day=28)


def de_minimis_used(ledger: list[LedgerEntry], grant_date: date, scheme: AidScheme) -> Decimal:
    start = window_start(grant_date, scheme.de_minimis_window_years)
    return sum((e.amount_eur for e in ledger if start < e.granted_on <= grant_date), Decimal(0))


def screen(
    market_value_eur: Decimal,
    applicant_payment_eur: Decimal,
    ledger: list[LedgerEntry],
    grant_date: date,
    scheme: AidScheme,
) -> Screening:
    aid = aid_element(market_value_eur, applicant_payment_eur)
    used = de_minimis_used(ledger, grant_date, scheme)
    headroom = max(Decimal(0), scheme.de_minimis_ceiling_eur - used)
    if aid == 0:
        return Screening(
            "no_aid",
            aid,
            headroom,
            headroom,
            f"the applicant pays the market price: no aid ({RDI_FRAMEWORK})",
        )
    if aid <= headroom:
        return Screening(
            "de_minimis",
            aid,
            headroom,
            headroom - aid,
            f"aid €{aid:,.2f} fits the de minimis headroom of €{headroom:,.2f} "
            f"(ceiling €{scheme.de_minimis_ceiling_eur:,.0f} over three years, {DE_MINIMIS})",
        )
    return Screening(
        "refused",
        aid,
        headroom,
        headroom,
        f"aid €{aid:,.2f} exceeds the de minimis headroom of €{headroom:,.2f}: the single "
        f"undertaking already has €{used:,.2f} in the three years to {grant_date}; de minimis "
        f"cannot be used in part ({DE_MINIMIS})",
    )
