"""Eligibility rules as plain functions: the applicant's declaration in, a decision out.

Every rule returns a RuleOutcome with its id, the scheme version, the legal source from the
scheme configuration and one sentence a founder understands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from loket_contracts.messages import Applicant, RuleOutcome
from loket_contracts.scheme import Scheme

from loket_eligibility.domain.ages import add_years, age_in_years
from loket_eligibility.domain.exclusions import (
    apply_exclusions,
    check_difficulty,
    check_recovery_order,
)
from loket_eligibility.domain.groupings import read_investors, single_undertaking
from loket_eligibility.domain.outcomes import outcome as _outcome
from loket_eligibility.domain.sme import check_public_control, check_sme


@dataclass(frozen=True)
class Decision:
    outcome: str  # eligible | ineligible | manual_review
    sme_category: str
    rules: list[RuleOutcome]
    excluded_instruments: list[str] = field(default_factory=list)
    single_undertaking: list[str] | None = None  # None: every linked enterprise (pilot-2026)


# ---- countries, call, sector -------------------------------------------------------------


def check_country(rule_id: str, country: str, what: str, scheme: Scheme) -> RuleOutcome:
    c = scheme.countries
    if scheme.is_member_state(country):
        return _outcome(rule_id, c.eu27, scheme, True, f"{what} {country}, an EU member state")
    if scheme.is_associated(country):
        return _outcome(
            rule_id,
            c.associated,
            scheme,
            True,
            f"{what} {country}, a country associated to Horizon Europe",
        )
    if country in c.pillar_two_only.value:
        return _outcome(
            rule_id,
            c.pillar_two_only,
            scheme,
            False,
            f"{what} {country}, associated to Horizon Europe for Pillar II only, "
            "which does not cover infrastructure access",
        )
    return _outcome(
        rule_id,
        c.associated,
        scheme,
        False,
        f"{what} {country}, neither an EU member state nor fully associated to Horizon Europe",
    )


def check_priority_area(area: str, scheme: Scheme) -> RuleOutcome:
    areas = scheme.call.priority_areas
    if area in areas.value:
        return _outcome(
            "call.priority_area", areas, scheme, True, f"'{area}' is a priority area of this call"
        )
    return _outcome(
        "call.priority_area",
        areas,
        scheme,
        False,
        f"'{area}' is not one of the call's priority areas: {areas.value}",
    )


def check_startup_or_scaleup(
    applicant: Applicant, category: str, as_of: date, scheme: Scheme
) -> RuleOutcome:
    max_age = scheme.call.startup_max_age_years
    if applicant.registered_on > as_of:
        return _outcome(
            "applicant.startup",
            max_age,
            scheme,
            False,
            f"registered on {applicant.registered_on}, after the decision date {as_of}: "
            "a company cannot apply before it exists",
        )
    age = age_in_years(applicant.registered_on, as_of)
    young = add_years(applicant.registered_on, max_age.value) >= as_of
    if young and not applicant.listed and category in ("micro", "small"):
        return _outcome(
            "applicant.startup",
            max_age,
            scheme,
            True,
            f"start-up: unlisted {category} enterprise registered {age} year(s) ago",
        )
    scaleups = scheme.call.scaleups_allowed
    if scaleups.value and category != "large":
        return _outcome(
            "applicant.startup",
            scaleups,
            scheme,
            True,
            f"scale-up: {category} enterprise registered {age} year(s) ago; the "
            "call admits scale-ups",
        )
    return _outcome(
        "applicant.startup",
        scaleups,
        scheme,
        False,
        "a large enterprise is neither a start-up nor a scale-up"
        if category == "large"
        else f"not a start-up ({age} year(s) since registration, listed={applicant.listed}) "
        "and the call does not admit scale-ups",
    )


def check_sector(applicant: Applicant, scheme: Scheme) -> RuleOutcome:
    excluded = scheme.call.excluded_nace_prefixes
    code = applicant.nace_code.upper().replace(" ", "")
    code = code if code[:1].isalpha() else "A" + code  # "03.2" is section A, division 03
    if any(code.startswith(p) for p in excluded.value):
        return _outcome(
            "sector.excluded",
            excluded,
            scheme,
            False,
            f"NACE {applicant.nace_code} (fishery, aquaculture or primary "
            "agricultural production) is excluded from this aid",
        )
    return _outcome(
        "sector.excluded",
        excluded,
        scheme,
        True,
        f"NACE {applicant.nace_code} is not an excluded sector",
    )


def decide(applicant: Applicant, priority_area: str, as_of: date, scheme: Scheme) -> Decision:
    category, sme = check_sme(applicant, scheme)
    investors = read_investors(applicant, scheme)
    public = check_public_control(applicant, scheme, investors.public_share_excepted_pct)
    if not public.passed:
        category = "large"
    difficulty, excluded = apply_exclusions(
        check_difficulty(applicant, category, as_of, scheme), scheme
    )
    members, grouping = single_undertaking(applicant, scheme)
    rules = [
        sme,
        *([investors.outcome] if investors.outcome else []),
        public,
        check_country("country.established", applicant.country, "established in", scheme),
        check_country(
            "country.workplace", applicant.workplace_country, "the team works in", scheme
        ),
        check_priority_area(priority_area, scheme),
        check_startup_or_scaleup(applicant, category, as_of, scheme),
        check_sector(applicant, scheme),
        *difficulty,
        check_recovery_order(applicant, scheme),
        *([grouping] if grouping else []),
    ]
    if not all(r.passed for r in rules):
        outcome = "ineligible"
    elif any(r.needs_review for r in rules):
        outcome = "manual_review"
    else:
        outcome = "eligible"
    return Decision(outcome, category, rules, excluded, members)
