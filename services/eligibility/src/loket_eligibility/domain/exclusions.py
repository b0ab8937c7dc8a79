"""What being in difficulty costs an applicant, by scheme version.

pilot-2026 refused every undertaking in difficulty. From pilot-2026-r2 the scheme's
`[exclusions]` decide: a ground listed in `refusing_grounds` (insolvency: the Financial
Regulation's exclusion, and whatever the call adds) refuses the application; any other ground
of difficulty only removes the GBER instruments (GBER Art. 1(4)(c)), because the de minimis
Regulation (EU) 2023/2831 does not exclude undertakings in difficulty.
"""

from __future__ import annotations

from loket_contracts.messages import RuleOutcome
from loket_contracts.scheme import Scheme

# a failing difficulty rule of rules.py ends with this; the fact is what comes before it
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
