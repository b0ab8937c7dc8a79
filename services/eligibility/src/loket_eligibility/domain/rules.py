"""Eligibility rules as plain functions: applicant declaration in, decision with reasons out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from loket_contracts.messages import Applicant, RuleOutcome

from loket_eligibility.domain.scheme import EligibilityScheme

REC_2003_361 = "Commission Recommendation 2003/361/EC, Annex Art. 2-3"
HE_ASSOCIATION = "Regulation (EU) 2021/695 Art. 16 (Horizon Europe association)"
STRATEGY_ACTION_14 = "EU Strategy for RIs and TIs, action 14 (priority areas)"
GBER_ART_22 = "Regulation (EU) 651/2014 (GBER) Art. 22(2)"
DE_MINIMIS_ART_1 = "Regulation (EU) 2023/2831 Art. 1(1)"


@dataclass(frozen=True)
class Decision:
    outcome: str
    sme_category: str
    rules: list[RuleOutcome]


@dataclass(frozen=True)
class GroupFigures:
    """The enterprise's figures with its linked enterprises added at 100 %."""

    staff_awu: float
    turnover_eur: Decimal
    balance_sheet_eur: Decimal


def group_figures(applicant: Applicant) -> GroupFigures:
    linked = applicant.linked_enterprises
    return GroupFigures(
        staff_awu=applicant.staff_awu + sum(e.staff_awu for e in linked),
        turnover_eur=applicant.turnover_eur + sum((e.turnover_eur for e in linked), Decimal(0)),
        balance_sheet_eur=applicant.balance_sheet_eur
        + sum((e.balance_sheet_eur for e in linked), Decimal(0)),
    )


def sme_category(figures: GroupFigures, scheme: EligibilityScheme) -> str:
    for size in scheme.sme_classes:
        if figures.staff_awu < size.max_staff_exclusive and (
            figures.turnover_eur <= size.max_turnover_eur
            or figures.balance_sheet_eur <= size.max_balance_sheet_eur
        ):
            return size.name
    return "large"


def _eur(amount: Decimal) -> str:
    return f"€{amount:,.0f}"


def check_sme(applicant: Applicant, scheme: EligibilityScheme) -> tuple[str, RuleOutcome]:
    figures = group_figures(applicant)
    category = sme_category(figures, scheme)
    linked = (
        f" with {len(applicant.linked_enterprises)} linked enterprise(s)"
        if applicant.linked_enterprises
        else ""
    )
    medium = scheme.sme_classes[-1]
    if category == "large":
        reason = (
            f"staff {figures.staff_awu:g} AWU, turnover {_eur(figures.turnover_eur)} and balance "
            f"sheet {_eur(figures.balance_sheet_eur)}{linked} exceed the SME limits (fewer than "
            f"{medium.max_staff_exclusive:g} staff and turnover ≤ {_eur(medium.max_turnover_eur)} "
            f"or balance sheet ≤ {_eur(medium.max_balance_sheet_eur)})"
        )
        return category, RuleOutcome(
            rule_id="sme.size", passed=False, legal_source=REC_2003_361, reason=reason
        )
    reason = (
        f"{category} enterprise: staff {figures.staff_awu:g} AWU, turnover "
        f"{_eur(figures.turnover_eur)}{linked}"
    )
    return category, RuleOutcome(
        rule_id="sme.size", passed=True, legal_source=REC_2003_361, reason=reason
    )


def check_country(applicant: Applicant, scheme: EligibilityScheme) -> RuleOutcome:
    country = applicant.country
    if country in scheme.eu27:
        reason, passed = f"established in {country}, an EU member state", True
    elif country in scheme.associated:
        reason, passed = f"established in {country}, a Horizon Europe associated country", True
    else:
        reason, passed = (
            f"established in {country}, which is neither an EU member state nor fully "
            "associated to Horizon Europe",
            False,
        )
    return RuleOutcome(
        rule_id="country.established", passed=passed, legal_source=HE_ASSOCIATION, reason=reason
    )


def check_priority_area(area: str, scheme: EligibilityScheme) -> RuleOutcome:
    passed = area in scheme.priority_areas
    reason = (
        f"'{area}' is a priority area of this call"
        if passed
        else f"'{area}' is not one of the call's priority areas: {sorted(scheme.priority_areas)}"
    )
    return RuleOutcome(
        rule_id="call.priority_area", passed=passed, legal_source=STRATEGY_ACTION_14, reason=reason
    )


def age_in_years(registered_on: date, as_of: date) -> int:
    years = as_of.year - registered_on.year
    if (as_of.month, as_of.day) < (registered_on.month, registered_on.day):
        years -= 1
    return years


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def check_startup_or_scaleup(
    applicant: Applicant, category: str, as_of: date, scheme: EligibilityScheme
) -> RuleOutcome:
    age = age_in_years(applicant.registered_on, as_of)
    young = add_years(applicant.registered_on, scheme.startup_max_age_years) >= as_of
    if young and not applicant.listed and category in ("micro", "small"):
        return RuleOutcome(
            rule_id="applicant.startup",
            passed=True,
            legal_source=GBER_ART_22,
            reason=f"start-up: unlisted {category} enterprise registered {age} year(s) ago",
        )
    if scheme.scaleups_allowed and category != "large":
        return RuleOutcome(
            rule_id="applicant.startup",
            passed=True,
            legal_source=GBER_ART_22,
            reason=f"scale-up: {category} enterprise registered {age} year(s) ago; the call "
            "admits scale-ups",
        )
    return RuleOutcome(
        rule_id="applicant.startup",
        passed=False,
        legal_source=GBER_ART_22,
        reason=f"not a start-up ({age} year(s) since registration, listed={applicant.listed}) "
        "and the call does not admit scale-ups",
    )


def check_sector(applicant: Applicant, scheme: EligibilityScheme) -> RuleOutcome:
    code = applicant.nace_code.upper().replace(" ", "")
    excluded = any(code.startswith(p) for p in scheme.excluded_nace_prefixes)
    reason = (
        f"NACE {applicant.nace_code} (fishery, aquaculture or primary agricultural production) "
        "is excluded from de minimis aid"
        if excluded
        else f"NACE {applicant.nace_code} is not an excluded sector"
    )
    return RuleOutcome(
        rule_id="sector.excluded",
        passed=not excluded,
        legal_source=DE_MINIMIS_ART_1,
        reason=reason,
    )


def decide(
    applicant: Applicant, priority_area: str, as_of: date, scheme: EligibilityScheme
) -> Decision:
    category, sme = check_sme(applicant, scheme)
    rules = [
        sme,
        check_country(applicant, scheme),
        check_priority_area(priority_area, scheme),
        check_startup_or_scaleup(applicant, category, as_of, scheme),
        check_sector(applicant, scheme),
    ]
    outcome = "eligible" if all(r.passed for r in rules) else "ineligible"
    return Decision(outcome=outcome, sme_category=category, rules=rules)
