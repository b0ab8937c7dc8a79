"""Scheme configuration for eligibility, versioned. Every threshold names its legal source."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class SizeClass:
    name: str
    max_staff_exclusive: float
    max_turnover_eur: Decimal
    max_balance_sheet_eur: Decimal


@dataclass(frozen=True)
class EligibilityScheme:
    version: str
    sme_classes: tuple[SizeClass, ...]  # smallest first
    eu27: frozenset[str]
    associated: frozenset[str]
    priority_areas: frozenset[str]
    startup_max_age_years: int
    scaleups_allowed: bool
    excluded_nace_prefixes: tuple[str, ...]


PILOT_2026 = EligibilityScheme(
    version="pilot-2026",
    # Commission Recommendation 2003/361/EC, Annex, Art. 2(1)-(3): staff headcount in annual
    # work units AND (turnover OR balance-sheet total) ceilings.
    sme_classes=(
        SizeClass("micro", 10, Decimal(2_000_000), Decimal(2_000_000)),
        SizeClass("small", 50, Decimal(10_000_000), Decimal(10_000_000)),
        SizeClass("medium", 250, Decimal(50_000_000), Decimal(43_000_000)),
    ),
    # EU-27 member states, ISO 3166-1 alpha-2; the EU's own code for Greece is EL.
    eu27=frozenset(
        (
            "AT BE BG HR CY CZ DK EE FI FR DE GR EL HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE"
        ).split()
    ),
    # Horizon Europe fully associated countries (Regulation (EU) 2021/695 Art. 16 and the
    # association agreements in force). Pillar-II-only association (e.g. KR) does not cover
    # infrastructure access, so those countries are not listed here.
    associated=frozenset("IS NO AL BA ME MK RS TR IL TN GE AM MD UA FO GB NZ CH".split()),
    # EU Strategy for Research and Technology Infrastructures, action 14 priority areas.
    priority_areas=frozenset(
        {"advanced-materials", "clean-energy", "quantum", "ai", "health-biotech"}
    ),
    # GBER (Reg. (EU) 651/2014) Art. 22(2): start-up = unlisted small enterprise up to 5 years
    # after registration.
    startup_max_age_years=5,
    # Pilot call text: scale-ups (SMEs past the start-up age) may apply.
    scaleups_allowed=True,
    # De minimis Reg. (EU) 2023/2831 Art. 1(1)(a)-(b): fishery and aquaculture, primary
    # production of agricultural products (NACE A01, A03) are excluded.
    excluded_nace_prefixes=("A01", "A03", "01", "03"),
)
