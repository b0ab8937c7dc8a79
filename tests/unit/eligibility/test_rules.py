"""Eligibility rules, table-driven; every case names the article it checks."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from loket_contracts.messages import (
    Applicant,
    DifficultyDeclaration,
    FinancialPeriod,
    LinkedEnterprise,
    PartnerEnterprise,
)
from loket_contracts.scheme import load_scheme
from loket_eligibility.domain.rules import Decision, decide

SCHEME = load_scheme("pilot-2026")
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


def rule(decision: Decision, rule_id: str) -> Any:
    return next(r for r in decision.rules if r.rule_id == rule_id)


def run(**changes: Any) -> Decision:
    return decide(applicant(**changes), "quantum", AS_OF, SCHEME)


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
def test_sme_category_art_2(staff: float, turnover: int, balance: int, expected: str) -> None:
    d = run(staff_awu=staff, turnover_eur=Decimal(turnover), balance_sheet_eur=Decimal(balance))
    assert d.sme_category == expected
    assert rule(d, "sme.size").passed is (expected != "large")


def test_linked_company_pushes_staff_over_250_art_6_2() -> None:
    parent = LinkedEnterprise(
        undertaking_id="NL-P",
        name="Parent BV",
        staff_awu=230,
        turnover_eur=Decimal(60_000_000),
        balance_sheet_eur=Decimal(50_000_000),
    )
    d = run(staff_awu=82, linked_enterprises=[parent])
    assert d.outcome == "ineligible" and d.sme_category == "large"
    reason = rule(d, "sme.size").reason
    assert "staff 312 AWU" in reason and "linked company Parent BV" in reason and "250" in reason
    assert rule(d, "sme.size").legal_source.startswith("Commission Recommendation 2003/361/EC")


@pytest.mark.parametrize(
    ("share", "counted_staff"),
    [
        (Decimal("24.99"), 12),
        (Decimal(25), 12 + 100),
        (Decimal(50), 12 + 200),
        (Decimal("50.01"), 12 + 400),
    ],  # Annex Art. 3(2)-(3): <25 % none, 25-50 % share, >50 % all
)
def test_partner_enterprises_add_their_share_art_3(share: Decimal, counted_staff: int) -> None:
    partner = PartnerEnterprise(
        undertaking_id="DE-V",
        name="Venture GmbH",
        share_pct=share,
        staff_awu=400,
        turnover_eur=Decimal(0),
        balance_sheet_eur=Decimal(0),
    )
    d = run(partner_enterprises=[partner])
    assert f"staff {counted_staff:g} AWU" in rule(d, "sme.size").reason


@pytest.mark.parametrize(("share", "sme"), [(Decimal("24.9"), True), (Decimal(25), False)])
def test_public_bodies_holding_25_percent_art_3_4(share: Decimal, sme: bool) -> None:
    d = run(public_bodies_share_pct=share)
    assert rule(d, "sme.public_control").passed is sme
    assert (d.outcome == "eligible") is sme
    assert (d.sme_category == "large") is not sme


def test_status_changes_only_after_two_consecutive_periods_art_4_2() -> None:
    medium_now = dict(
        staff_awu=60, turnover_eur=Decimal(12_000_000), balance_sheet_eur=Decimal(11_000_000)
    )
    small_before = FinancialPeriod(
        closed_on=date(2024, 12, 31),
        staff_awu=40,
        turnover_eur=Decimal(8_000_000),
        balance_sheet_eur=Decimal(7_000_000),
    )
    stays = run(**medium_now, previous_period=small_before)
    assert stays.sme_category == "small"
    assert "two consecutive periods" in rule(stays, "sme.size").reason
    assert rule(stays, "sme.size").legal_source.endswith("Art. 4(2)")
    medium_before = small_before.model_copy(
        update={
            "staff_awu": 55,
            "turnover_eur": Decimal(11_000_000),
            "balance_sheet_eur": Decimal(10_500_000),
        }
    )
    assert run(**medium_now, previous_period=medium_before).sme_category == "medium"
    assert run(**medium_now).sme_category == "medium"  # only one period declared


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
    ],
)
def test_country_of_establishment(country: str, eligible: bool) -> None:
    # EU-27 (TEU Art. 52, EL and GR both mean Greece) or fully associated (Reg. 2021/695 Art. 16).
    d = run(country=country)
    assert rule(d, "country.established").passed is eligible
    assert (d.outcome == "eligible") is eligible
    if country == "KR":
        assert "Pillar II only" in rule(d, "country.established").reason


def test_team_working_outside_eu_and_associated_is_ineligible() -> None:
    d = run(workplace_country="US")
    assert not rule(d, "country.workplace").passed


def test_priority_area_outside_the_call() -> None:
    d = decide(applicant(), "space-mining", AS_OF, SCHEME)
    assert d.outcome == "ineligible"
    assert "not one of the call's priority areas" in rule(d, "call.priority_area").reason


@pytest.mark.parametrize(
    ("nace", "excluded"),
    [("A03.2", True), ("A01.1", True), ("03.21", True), ("C26.1", False), ("M72.1", False)],
)
def test_excluded_sectors_de_minimis_art_1_1(nace: str, excluded: bool) -> None:
    assert (run(nace_code=nace).outcome == "ineligible") is excluded


@pytest.mark.parametrize(
    ("registered", "listed", "reason_start"),
    [
        (date(2021, 11, 28), False, "start-up"),  # exactly five years: still a start-up
        (date(2021, 11, 27), False, "scale-up"),  # five years and a day (GBER Art. 22(2))
        (date(2025, 1, 1), True, "scale-up"),  # listed companies are never start-ups
    ],
)
def test_startup_age_gber_art_22(registered: date, listed: bool, reason_start: str) -> None:
    r = rule(run(registered_on=registered, listed=listed), "applicant.startup")
    assert r.passed and r.reason.startswith(reason_start)


@pytest.mark.parametrize(
    ("registered", "outcome"), [(AS_OF, "eligible"), (AS_OF + timedelta(days=1), "ineligible")]
)
def test_a_company_registered_after_the_decision_date_is_refused(
    registered: date, outcome: str
) -> None:
    d = run(registered_on=registered)
    assert d.outcome == outcome
    if outcome == "ineligible":
        assert "cannot apply before it exists" in rule(d, "applicant.startup").reason


@pytest.mark.parametrize(
    ("registered", "outcome"),
    [
        (date(2024, 11, 29), "eligible"),  # 2 years old: SMEs < 3 years are exempt
        (date(2023, 11, 28), "ineligible"),
    ],  # 3 years old: the capital-loss test applies
)
def test_capital_loss_with_young_sme_exemption_gber_art_2_18(
    registered: date, outcome: str
) -> None:
    d = run(
        registered_on=registered, difficulty=DifficultyDeclaration(more_than_half_capital_lost=True)
    )
    assert d.outcome == outcome
    assert "Art. 2(18)" in rule(d, "difficulty.capital_loss").legal_source


@pytest.mark.parametrize(
    "field", ["collective_insolvency", "rescue_aid_outstanding", "under_restructuring_plan"]
)
def test_insolvency_and_rescue_aid_exclude_gber_art_2_18(field: str) -> None:
    d = run(difficulty=DifficultyDeclaration(**{field: True}))
    assert d.outcome == "ineligible"
    assert any("undertaking in difficulty" in r.reason for r in d.rules if not r.passed)


def test_outstanding_recovery_order_excludes_gber_art_1_4() -> None:
    d = run(outstanding_recovery_order=True)
    assert d.outcome == "ineligible"
    assert rule(d, "recovery.order").legal_source.endswith("Art. 1(4)(a)")


def test_undecidable_declaration_goes_to_manual_review() -> None:
    d = run(difficulty=DifficultyDeclaration(more_than_half_capital_lost=None))
    assert d.outcome == "manual_review"
    assert rule(d, "difficulty.capital_loss").needs_review
    # a failed rule still wins over a review
    assert (
        run(
            difficulty=DifficultyDeclaration(more_than_half_capital_lost=None), country="US"
        ).outcome
        == "ineligible"
    )


def test_every_rule_records_version_source_and_reason() -> None:
    d = run()
    assert d.outcome == "eligible"
    assert {r.rule_id for r in d.rules} == {
        "sme.size",
        "sme.public_control",
        "country.established",
        "country.workplace",
        "call.priority_area",
        "applicant.startup",
        "sector.excluded",
        "difficulty.capital_loss",
        "difficulty.insolvency",
        "difficulty.rescue_restructuring",
        "recovery.order",
    }
    assert all(r.legal_source and r.reason and r.scheme_version == "pilot-2026" for r in d.rules)


def test_large_enterprise_is_told_it_is_neither_start_up_nor_scale_up() -> None:
    r = rule(run(staff_awu=900), "applicant.startup")
    assert not r.passed and r.reason == "a large enterprise is neither a start-up nor a scale-up"
