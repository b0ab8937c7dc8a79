"""State-aid screening: aid element, de minimis, GBER Art. 28 intensities. Pure, no I/O.

Order of preference for a voucher's aid element (SPEC, domain rules):
1. no aid when the applicant pays the market price;
2. de minimis when the whole amount fits the single undertaking's headroom (no partial use);
3. GBER Art. 28 for SMEs: 100 % while the undertaking's Art. 28 aid stays within the cap over
   three years, otherwise 50 % intensity with the rest as co-payment;
4. otherwise manual review. Never a silent grant.

From pilot-2026-r2 an undertaking in difficulty has no GBER instrument (GBER Art. 1(4)(c)):
if de minimis does not fit, the application is refused with that reason. And the de minimis
ceiling is checked again at the grant (`fits_at_grant`), against the aid granted by then.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_DOWN, Decimal

from loket_contracts.scheme import Scheme

RDI_FRAMEWORK = "R&D&I Framework 2022/C 414/01, point 31: access at market price carries no aid"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class LedgerEntry:
    granted_on: date
    amount_eur: Decimal
    instrument: str  # de_minimis | gber_art28


@dataclass(frozen=True)
class Screening:
    instrument: str  # no_aid | de_minimis | gber_art28 | manual_review | refused
    intensity: Decimal
    aid_element_eur: Decimal  # the aid granted (= the voucher)
    co_payment_eur: Decimal  # what the applicant pays the facilities
    de_minimis_headroom_after_eur: Decimal
    art28_full_intensity_headroom_after_eur: Decimal
    legal_source: str
    reason: str


def aid_element(market_value_eur: Decimal, applicant_payment_eur: Decimal) -> Decimal:
    """Indirect aid to the user = market price of what it gets − what it pays (never < 0)."""
    return max(Decimal(0), market_value_eur - applicant_payment_eur)


def window_start(grant_date: date, years: int) -> date:
    """Day before the first day of the rolling window of `years` that ends on `grant_date`."""
    try:
        return grant_date.replace(year=grant_date.year - years)
    except ValueError:  # 29 February
        return grant_date.replace(year=grant_date.year - years, day=28)


def granted_by(ledger: list[LedgerEntry], day: date) -> list[LedgerEntry]:
    """The ledger as it stands when aid for `day` is decided: aid granted after that day (the
    date turned while the screening was on its way) exists already, so it counts as of `day`
    instead of falling outside the window. Never grant above a ceiling by a clock's turn."""
    return [e if e.granted_on <= day else replace(e, granted_on=day) for e in ledger]


def used_in_window(
    ledger: list[LedgerEntry], instrument: str, grant_date: date, years: int
) -> Decimal:
    start = window_start(grant_date, years)
    return sum(
        (
            e.amount_eur
            for e in ledger
            if e.instrument == instrument and start < e.granted_on <= grant_date
        ),
        Decimal(0),
    )


@dataclass(frozen=True)
class Headroom:
    """What the single undertaking used in the windows ending on a day, and what is left."""

    de_minimis_used_eur: Decimal
    de_minimis_eur: Decimal
    art28_used_eur: Decimal
    art28_full_intensity_eur: Decimal


def headroom(ledger: list[LedgerEntry], day: date, scheme: Scheme) -> Headroom:
    sa = scheme.state_aid
    dm = used_in_window(ledger, "de_minimis", day, sa.de_minimis_window_years.value)
    a28 = used_in_window(ledger, "gber_art28", day, sa.gber_art28_window_years.value)
    return Headroom(
        dm,
        max(Decimal(0), sa.de_minimis_ceiling_eur.value - dm),
        a28,
        max(Decimal(0), sa.gber_art28_full_intensity_cap_eur.value - a28),
    )


def _eur(v: Decimal) -> str:
    return f"€{v:,.2f}"


def screen(
    market_value_eur: Decimal,
    applicant_payment_eur: Decimal,
    ledger: list[LedgerEntry],
    grant_date: date,
    is_sme: bool,
    scheme: Scheme,
    excluded: frozenset[str] = frozenset(),
) -> Screening:
    sa = scheme.state_aid
    aid = aid_element(market_value_eur, applicant_payment_eur)
    left = headroom(ledger, grant_date, scheme)
    dm_used, dm_headroom = left.de_minimis_used_eur, left.de_minimis_eur
    a28_used, a28_headroom = left.art28_used_eur, left.art28_full_intensity_eur
    payment = applicant_payment_eur

    if aid == 0:
        return Screening(
            "no_aid",
            Decimal(0),
            Decimal(0),
            payment,
            dm_headroom,
            a28_headroom,
            RDI_FRAMEWORK,
            "the applicant pays the market price: no aid",
        )
    if aid <= dm_headroom:
        return Screening(
            "de_minimis",
            Decimal(1),
            aid,
            payment,
            dm_headroom - aid,
            a28_headroom,
            sa.de_minimis_ceiling_eur.source,
            f"aid {_eur(aid)} fits the de minimis headroom of {_eur(dm_headroom)} (ceiling "
            f"{_eur(sa.de_minimis_ceiling_eur.value)} over three years)",
        )
    dm_note = (
        f"de minimis cannot be used: {_eur(aid)} exceeds the headroom of "
        f"{_eur(dm_headroom)} left by {_eur(dm_used)} in the three years to {grant_date}, "
        "and de minimis is all or nothing"
    )
    if "gber_art28" in excluded and scheme.exclusions is not None:
        return Screening(
            "refused",
            Decimal(0),
            Decimal(0),
            payment,
            dm_headroom,
            a28_headroom,
            scheme.exclusions.difficulty_removes.source,
            f"{dm_note}; GBER Art. 28 is not open to an undertaking in difficulty "
            "(GBER Art. 1(4)(c)): no aid can be granted",
        )
    if not is_sme:
        return Screening(
            "manual_review",
            Decimal(0),
            Decimal(0),
            payment,
            dm_headroom,
            a28_headroom,
            sa.gber_art28_intensity.source,
            f"{dm_note}; GBER Art. 28 is for SMEs only: a programme manager decides",
        )
    if aid <= a28_headroom:
        intensity = sa.gber_art28_full_intensity.value
        return Screening(
            "gber_art28",
            intensity,
            aid,
            payment,
            dm_headroom,
            a28_headroom - aid,
            sa.gber_art28_full_intensity_cap_eur.source,
            f"{dm_note}; GBER Art. 28 innovation aid at {intensity:.0%}: {_eur(aid)} stays "
            f"within the {_eur(sa.gber_art28_full_intensity_cap_eur.value)} three-year cap "
            f"({_eur(a28_used)} used)",
        )
    intensity = sa.gber_art28_intensity.value
    voucher = min(aid, (market_value_eur * intensity).quantize(CENT, rounding=ROUND_DOWN))
    co_payment = market_value_eur - voucher
    if voucher > sa.gber_art28_notification_threshold_eur.value:
        return Screening(
            "manual_review",
            Decimal(0),
            Decimal(0),
            payment,
            dm_headroom,
            a28_headroom,
            sa.gber_art28_notification_threshold_eur.source,
            f"{dm_note}; {_eur(voucher)} exceeds the GBER notification threshold: "
            "a programme manager decides",
        )
    return Screening(
        "gber_art28",
        intensity,
        voucher,
        co_payment,
        dm_headroom,
        a28_headroom,
        sa.gber_art28_intensity.source,
        f"{dm_note}; the undertaking's Art. 28 aid ({_eur(a28_used)}) leaves no room for "
        f"{_eur(aid)} at 100 %, so GBER Art. 28 applies at {intensity:.0%}: voucher "
        f"{_eur(voucher)}, co-payment by the applicant {_eur(co_payment)}",
    )


@dataclass(frozen=True)
class GrantCheck:
    fits: bool
    headroom_eur: Decimal
    used_eur: Decimal
    reason: str


def fits_at_grant(
    aid_eur: Decimal, granted: list[LedgerEntry], grant_date: date, scheme: Scheme
) -> GrantCheck:
    """De minimis is granted when the legal right is conferred (Reg. (EU) 2023/2831 Art. 3(3)):
    the rolling three years end on the grant date and hold what was granted by then."""
    left = headroom(granted, grant_date, scheme)
    used, room = left.de_minimis_used_eur, left.de_minimis_eur
    if aid_eur <= room:
        reason = (
            f"checked again at the grant on {grant_date}: {_eur(aid_eur)} fits the de minimis "
            f"headroom of {_eur(room)}"
        )
        return GrantCheck(True, room, used, reason)
    reason = (
        f"at the grant on {grant_date} the single undertaking had received {_eur(used)} of de "
        f"minimis aid in three years, leaving {_eur(room)}: {_eur(aid_eur)} no longer fits"
    )
    return GrantCheck(False, room, used, reason)
