"""Who counts with the applicant, from pilot-2026-r2: the single undertaking (de minimis) is
not the SME's linked enterprises, and some investors leave an enterprise autonomous.

- Reg. (EU) 2023/2831 Art. 2(2): four control relationships make a single undertaking.
- Rec. 2003/361 Annex Art. 3(3): those, and natural persons acting jointly on the same or
  adjacent markets, link enterprises for the SME size; partners (25-50 %) count for the size
  too, but are never part of the single undertaking.
- Rec. 2003/361 Annex Art. 3(2) second subparagraph and Art. 3(4): certain investors at
  25-50 % leave the enterprise autonomous, and public ones do not count as public control.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from loket_contracts.messages import Applicant, Investor, RuleOutcome
from loket_contracts.scheme import Scheme

from loket_eligibility.domain.outcomes import outcome

CONTROL = "majority_voting_rights"  # an undeclared relationship: the cautious reading


def _outcome(
    rule_id: str, source: str, scheme: Scheme, reason: str, review: bool = False
) -> RuleOutcome:
    return outcome(rule_id, source, scheme, True, reason, review)  # informs, never refuses


def single_undertaking(
    applicant: Applicant, scheme: Scheme
) -> tuple[list[str] | None, RuleOutcome | None]:
    """The undertaking ids whose de minimis aid counts together (None: pilot-2026's reading,
    every linked enterprise), and the sentence that explains it."""
    groupings = scheme.groupings
    if groupings is None:
        return None, None
    rule = groupings.single_undertaking
    members = [applicant.undertaking_id]
    within, only_sme = [], []
    for linked in applicant.linked_enterprises:
        if (linked.relationship or CONTROL) in rule.value:
            members.append(linked.undertaking_id)
            within.append(linked.name)
        else:
            only_sme.append(linked.name)
    partners = ", ".join(p.name for p in applicant.partner_enterprises)
    reason = "for de minimis the single undertaking is " + applicant.name
    reason += f" with {', '.join(within)}" if within else " alone"
    if only_sme:
        reason += (
            f"; {', '.join(only_sme)} (linked through natural persons acting jointly) "
            "count for the SME size only"
        )
    if partners:
        reason += f"; partner enterprises ({partners}) count for the SME size only"
    return members, _outcome("state_aid.single_undertaking", rule.source, scheme, reason)


@dataclass(frozen=True)
class InvestorReading:
    outcome: RuleOutcome | None
    public_share_excepted_pct: Decimal  # public investors' share Art. 3(4) does not count


def _why_not(investor: Investor, scheme: Scheme) -> str | None:
    """None when the investor is an Art. 3(2) exception, else why not (or what is missing)."""
    rules = scheme.sme.investor_exceptions
    assert rules is not None
    if investor.kind not in rules.kinds.value:
        return "not one of the investors Annex Art. 3(2) names"
    if investor.kind == "business_angel":
        limit = rules.business_angel_max_investment_eur_exclusive.value
        if investor.invested_eur is None:
            return "its total investment in the applicant is not declared"
        if investor.invested_eur >= limit:
            return (
                f"business angels' investment of €{investor.invested_eur:,.0f} is not "
                f"below €{limit:,.0f}"
            )
    if investor.kind == "autonomous_local_authority":
        budget = rules.local_authority_max_budget_eur_exclusive.value
        people = rules.local_authority_max_inhabitants_exclusive.value
        if investor.annual_budget_eur is None or investor.inhabitants is None:
            return "its annual budget and inhabitants are not declared"
        if investor.annual_budget_eur >= budget or investor.inhabitants >= people:
            return (
                f"a budget of €{investor.annual_budget_eur:,.0f} and {investor.inhabitants:,} "
                f"inhabitants are not below €{budget:,.0f} and {people:,}"
            )
    return None


def read_investors(applicant: Applicant, scheme: Scheme) -> InvestorReading:
    rules = scheme.sme.investor_exceptions
    ownership = scheme.sme.ownership
    if rules is None or not applicant.investors:
        return InvestorReading(None, Decimal(0))
    lower, upper = ownership.partner_min_share_pct.value, ownership.linked_above_share_pct.value
    partners = {p.name for p in applicant.partner_enterprises}
    said, review, excepted_public = [], False, Decimal(0)
    for investor in applicant.investors:
        if investor.share_pct < lower:
            continue  # below 25 % nobody changes the applicant's autonomy
        why_not = _why_not(investor, scheme)
        if why_not is None and investor.share_pct <= upper:
            said.append(
                f"{investor.name} ({investor.kind}, {investor.share_pct}%) leaves it autonomous"
            )
            if investor.public_body:
                excepted_public += investor.share_pct
        elif investor.share_pct > upper:
            said.append(
                f"{investor.name} holds {investor.share_pct}%: a linked enterprise, no exception"
            )
        elif investor.name in partners:
            said.append(f"{investor.name} is a partner, its figures declared ({why_not})")
        else:
            review = True
            said.append(
                f"{investor.name} ({investor.share_pct}%) is a partner whose figures must "
                f"count ({why_not}): a programme manager checks them"
            )
    if not said:
        return InvestorReading(None, Decimal(0))
    outcome = _outcome("sme.investors", rules.kinds.source, scheme, "; ".join(said), review)
    return InvestorReading(outcome, excepted_public)
