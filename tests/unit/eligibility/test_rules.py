"""Eligibility rules, table-driven, each case citing its legal source."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from loket_contracts.messages import Applicant, LinkedEnterprise
from loket_eligibility.domain.rules import decide, group_figures, sme_category
from loket_eligibility.domain.scheme import PILOT_2026

AS_OF = date(2026, 11, 28)


def applicant(**changes: Any) -> Applicant:
    base: dict[str, Any] = dict(
        undertaking_id="PT-1",
        name="Lumina",
        country="PT",
        workplace_country="PT",
        registered_on=date(2023, 1, 1),
        staff_awu=12,
        turnover_eur=Decimal(1_500_000),
        balance_sheet_eur=Decimal(1_000_000),
        nace_code="C26.1",
    )
    return Applicant(**(base | changes))


# Rec. 2003/361/EC Annex Art. 2: staff < ceiling AND (turnover OR balance sheet) within.
@pytest.mark.parametrize(
    ("staff", "turnover", "balance", "expected"),
    [
        (9, 2_000_000, 5_000_000, "micro"),  # turnover exactly at €2m is still micro
        (10, 1_000_000, 1_000_000, "small"),  # 10 staff is not < 10
        (49, 60_000_000, 9_000_000, "small"),  # balance sheet alone suffices
        (249, 50_000_000, 99_000_000, "medium"),  # turnover at €50m, balance too high
        (249, 50_000_001, 43_000_001, "large"),  # both financial ceilings exceeded
        (250, 1, 1, "large"),  # 250 staff is not < 250
    ],
)
def test_sme_category_rec_2003_361(
    staff: float, turnover: int, balance: int, expected: str
) -> None:
    a = applicant(
        staff_awu=staff, turnover_eur=Decimal(turnover), balance_sheet_eur=Decimal(balance)
    )
    assert sme_category(group_figures(a), PILOT_2026) == expected


def test_linked_enterprise_adds_100_percent_and_pushes_staff_over_250() -> None:
    # Rec. 2003/361 Annex Art. 6(2): linked enterprises' data are added in full.
    parent = LinkedEnterprise(
        undertaking_id="NL-P",
        name="Parent",
        staff_awu=230,
        turnover_eur=Decimal(60_000_000),
        balance_sheet_eur=Decimal(50_000_000),
    )
    decision = decide(applicant(staff_awu=40, linked_enterprises=[parent]), "ai", AS_OF, PILOT_2026)
    assert decision.outcome == "ineligible"
    assert decision.sme_category == "large"
    sme = next(r for r in decision.rules if r.rule_id == "sme.size")
    assert "270" in sme.reason and "250" in sme.reason and "linked" in sme.reason
    assert sme.legal_source.startswith("Commission Recommendation 2003/361/EC")


@pytest.mark.parametrize(
    ("country", "eligible"),
    [
        ("PT", True),
        ("EL", True),
        ("GR", True),
        ("NO", True),
        ("CH", True),
        ("US", False),
        ("KR", False),
    ],  # KR: Pillar-II-only association, no infrastructure access
)
def test_country_of_establishment(country: str, eligible: bool) -> None:
    decision = decide(applicant(country=country), "quantum", AS_OF, PILOT_2026)
    rule = next(r for r in decision.rules if r.rule_id == "country.established")
    assert rule.passed is eligible
    assert (decision.outcome == "eligible") is eligible


def test_priority_area_outside_the_call_is_ineligible() -> None:
    decision = decide(applicant(), "space-mining", AS_OF, PILOT_2026)
    assert decision.outcome == "ineligible"
    assert any("not one of the call's priority areas" in r.reason for r in decision.rules)


@pytest.mark.parametrize(
    ("nace", "excluded"), [("A03.2", True), ("A01.1", True), ("C26.1", False), ("M72.1", False)]
)
def test_excluded_de_minimis_sectors(nace: str, excluded: bool) -> None:
    # Reg. (EU) 2023/2831 Art. 1(1)(a)-(b): fishery/aquaculture and primary agriculture.
    decision = decide(applicant(nace_code=nace), "health-biotech", AS_OF, PILOT_2026)
    assert (decision.outcome == "ineligible") is excluded


@pytest.mark.parametrize(
    ("registered", "listed", "reason_start"),
    [
        (date(2021, 11, 28), False, "start-up"),  # exactly five years: still a start-up
        (date(2021, 11, 27), False, "scale-up"),  # five years and a day
        (date(2025, 1, 1), True, "scale-up"),  # listed companies are never start-ups
    ],
)
def test_startup_age_gber_art_22(registered: date, listed: bool, reason_start: str) -> None:
    decision = decide(applicant(registered_on=registered, listed=listed), "ai", AS_OF, PILOT_2026)
    rule = next(r for r in decision.rules if r.rule_id == "applicant.startup")
    assert rule.passed and rule.reason.startswith(reason_start)


def test_every_rule_records_version_source_and_reason() -> None:
    decision = decide(applicant(), "ai", AS_OF, PILOT_2026)
    assert decision.outcome == "eligible"
    assert {r.rule_id for r in decision.rules} == {
        "sme.size",
        "country.established",
        "call.priority_area",
        "applicant.startup",
        "sector.excluded",
    }
    assert all(r.legal_source and r.reason for r in decision.rules)
