"""The exclusions: an undertaking in difficulty (GBER Art. 2(18)), an outstanding recovery
order (GBER Art. 1(4)(a)), and what being in difficulty costs, by scheme version.

pilot-2026 refused every undertaking in difficulty. From pilot-2026-r2 the scheme's
`[exclusions]` decide: a ground listed in `refusing_grounds` (insolvency: the Financial
Regulation's exclusion, and whatever the call adds) refuses the application; any other ground
of difficulty only removes the GBER instruments (GBER Art. 1(4)(c)), because the de minimis
Regulation (EU) 2023/2831 does not exclude undertakings in difficulty.
"""

from __future__ import annotations

from datetime import date

from loket_contracts.messages import Applicant, RuleOutcome
from loket_contracts.scheme import Scheme

from loket_eligibility.domain.ages import add_years
from loket_eligibility.domain.outcomes import outcome as _outcome

# a failing difficulty rule (check_difficulty, below) ends with this; the fact comes before it
NO_AID = ": an undertaking in difficulty gets no aid"
GROUND_OF_RULE = {
    "difficulty.capital_loss": "capital_loss",
    "difficulty.insolvency": "collective_insolvency",
    "difficulty.rescue_restructuring": "rescue_restructuring",
}


def apply_exclusions(
    outcomes: list[RuleOutcome], scheme: Scheme
) -> tuple[list[RuleOutcome], list[str]]:
    """The difficulty outcomes as the scheme version reads them, and the instruments lost."""
    exclusions = scheme.exclusions
    if exclusions is None:
        return outcomes, []
    refusing = exclusions.refusing_grounds
    removes = exclusions.difficulty_removes
    read, lost = [], set()
    for outcome in outcomes:
        ground = GROUND_OF_RULE.get(outcome.rule_id)
        if outcome.passed or ground is None:
            read.append(outcome)
            continue
        fact = outcome.reason.removesuffix(NO_AID)
        if ground in refusing.value:
            read.append(
                outcome.model_copy(
                    update={
                        "legal_source": refusing.source,
                        "reason": f"{fact}: the call refuses applicants on this ground "
                        "(the Financial Regulation's exclusion), so no aid of any kind",
                    }
                )
            )
            continue
        lost.update(removes.value)
        read.append(
            outcome.model_copy(
                update={
                    "passed": True,
                    "legal_source": removes.source,
                    "reason": f"{fact}: an undertaking in difficulty cannot get GBER aid, so "
                    "GBER Art. 28 is out; de minimis aid stays possible",
                }
            )
        )
    return read, sorted(lost)


GBER_2_18 = "Regulation (EU) No 651/2014 (GBER) Art. 2(18)"
GBER_1_4 = "Regulation (EU) No 651/2014 (GBER) Art. 1(4)(a)"


def check_difficulty(
    applicant: Applicant, category: str, as_of: date, scheme: Scheme
) -> list[RuleOutcome]:
    d = applicant.difficulty
    exempt_years = scheme.call.difficulty_capital_loss_exempt_below_years
    young_sme = (
        category != "large" and add_years(applicant.registered_on, exempt_years.value) > as_of
    )
    out = []
    if d.more_than_half_capital_lost is None:
        out.append(
            _outcome(
                "difficulty.capital_loss",
                exempt_years,
                scheme,
                True,
                "the applicant could not say whether accumulated losses took more "
                "than half of its capital: a programme manager checks the accounts",
                needs_review=True,
            )
        )
    elif d.more_than_half_capital_lost and young_sme:
        out.append(
            _outcome(
                "difficulty.capital_loss",
                exempt_years,
                scheme,
                True,
                "more than half of the capital is lost, but an SME less than "
                f"{exempt_years.value} years old is exempt from this test",
            )
        )
    elif d.more_than_half_capital_lost:
        out.append(
            _outcome(
                "difficulty.capital_loss",
                exempt_years,
                scheme,
                False,
                "more than half of the subscribed capital has disappeared through "
                "accumulated losses" + NO_AID,
            )
        )
    else:
        out.append(
            _outcome(
                "difficulty.capital_loss",
                exempt_years,
                scheme,
                True,
                "accumulated losses do not exceed half of the capital",
            )
        )
    rescue = (
        None
        if d.rescue_aid_outstanding is None or d.under_restructuring_plan is None
        else d.rescue_aid_outstanding or d.under_restructuring_plan
    )
    for rule_id, flag, topic, failing, passing in (
        (
            "difficulty.insolvency",
            d.collective_insolvency,
            "collective insolvency proceedings",
            "the applicant is subject to, or qualifies for, collective insolvency proceedings",
            "no collective insolvency proceedings",
        ),
        (
            "difficulty.rescue_restructuring",
            rescue,
            "rescue or restructuring aid",
            "the applicant has rescue aid outstanding or is under a restructuring plan",
            "no outstanding rescue aid and no restructuring plan",
        ),
    ):
        if flag is None:
            out.append(
                _outcome(
                    rule_id,
                    GBER_2_18,
                    scheme,
                    True,
                    f"the applicant could not say whether {topic} apply: a "
                    "programme manager reviews it",
                    needs_review=True,
                )
            )
        elif flag:
            out.append(
                _outcome(
                    rule_id,
                    GBER_2_18,
                    scheme,
                    False,
                    failing + NO_AID,
                )
            )
        else:
            out.append(_outcome(rule_id, GBER_2_18, scheme, True, passing))
    return out


def check_recovery_order(applicant: Applicant, scheme: Scheme) -> RuleOutcome:
    flag = applicant.outstanding_recovery_order
    if flag is None:
        return _outcome(
            "recovery.order",
            GBER_1_4,
            scheme,
            True,
            "the applicant could not say whether a Commission recovery order is "
            "outstanding: a programme manager reviews it",
            needs_review=True,
        )
    if flag:
        return _outcome(
            "recovery.order",
            GBER_1_4,
            scheme,
            False,
            "an order to recover illegal aid is outstanding against the applicant",
        )
    return _outcome("recovery.order", GBER_1_4, scheme, True, "no outstanding recovery order")
