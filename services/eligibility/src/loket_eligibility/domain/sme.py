"""SME status under Commission Recommendation 2003/361/EC: size from own, linked and partner
enterprises' figures, two consecutive periods to change status, and public control."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from loket_contracts.messages import Applicant, RuleOutcome
from loket_contracts.scheme import Scheme

from loket_eligibility.domain.outcomes import outcome as _outcome

SIZE_CLASSES = ("micro", "small", "medium")


@dataclass(frozen=True)
class Figures:
    staff_awu: float
    turnover_eur: Decimal
    balance_sheet_eur: Decimal

    def plus(self, other: Figures, share: Decimal = Decimal(1)) -> Figures:
        return Figures(
            self.staff_awu + other.staff_awu * float(share),
            self.turnover_eur + other.turnover_eur * share,
            self.balance_sheet_eur + other.balance_sheet_eur * share,
        )


def _eur(amount: Decimal) -> str:
    return f"€{amount:,.0f}"


# ---- SME status: Rec. 2003/361/EC ----------------------------------------------------------


def group_figures(applicant: Applicant, own: Figures, scheme: Scheme) -> tuple[Figures, list[str]]:
    """Own figures + linked enterprises at 100 % + partners at their share (Annex Art. 6)."""
    ownership = scheme.sme.ownership
    total, notes = own, []
    for linked in applicant.linked_enterprises:
        total = total.plus(Figures(linked.staff_awu, linked.turnover_eur, linked.balance_sheet_eur))
        notes.append(f"linked company {linked.name} at 100 %")
    for partner in applicant.partner_enterprises:
        figures = Figures(partner.staff_awu, partner.turnover_eur, partner.balance_sheet_eur)
        if partner.share_pct > ownership.linked_above_share_pct.value:
            total = total.plus(figures)
            notes.append(
                f"{partner.name} at 100 % (a {partner.share_pct}% holding makes it linked)"
            )
        elif partner.share_pct >= ownership.partner_min_share_pct.value:
            total = total.plus(figures, partner.share_pct / 100)
            notes.append(f"partner {partner.name} at {partner.share_pct}%")
        # below 25 % the enterprise is autonomous of it: nothing added
    return total, notes


def size_class(figures: Figures, scheme: Scheme) -> str:
    for name in SIZE_CLASSES:
        ceiling = getattr(scheme.sme, name)
        if figures.staff_awu < ceiling.max_staff_awu_exclusive.value and (
            figures.turnover_eur <= ceiling.max_turnover_eur.value
            or figures.balance_sheet_eur <= ceiling.max_balance_sheet_eur.value
        ):
            return name
    return "large"


def check_sme(applicant: Applicant, scheme: Scheme) -> tuple[str, RuleOutcome]:
    latest_own = Figures(applicant.staff_awu, applicant.turnover_eur, applicant.balance_sheet_eur)
    latest, notes = group_figures(applicant, latest_own, scheme)
    category = size_class(latest, scheme)
    with_group = f" with {', '.join(notes)}" if notes else ""
    described = (
        f"staff {latest.staff_awu:g} AWU, turnover {_eur(latest.turnover_eur)} and "
        f"balance sheet {_eur(latest.balance_sheet_eur)}{with_group}"
    )
    medium = scheme.sme.medium
    rule = scheme.sme.medium.max_staff_awu_exclusive
    previous = applicant.previous_period
    if previous is not None:
        before, _ = group_figures(
            applicant,
            Figures(previous.staff_awu, previous.turnover_eur, previous.balance_sheet_eur),
            scheme,
        )
        earlier = size_class(before, scheme)
        if earlier != category:
            # Annex Art. 4(2): status changes only after two consecutive periods.
            rule = scheme.sme.ownership.consecutive_periods_for_change
            reason = (
                f"{described} would make it {category}, but the period closed "
                f"{previous.closed_on} made it {earlier}: the status changes only after "
                "two consecutive periods, so it stays " + earlier
            )
            category = earlier
            passed = category != "large"
            return category, _outcome("sme.size", rule, scheme, passed, reason)
    if category == "large":
        reason = (
            f"{described} exceed the SME limits (fewer than "
            f"{medium.max_staff_awu_exclusive.value} staff and turnover ≤ "
            f"{_eur(medium.max_turnover_eur.value)} or balance sheet ≤ "
            f"{_eur(medium.max_balance_sheet_eur.value)})"
        )
        return category, _outcome("sme.size", rule, scheme, False, reason)
    return category, _outcome("sme.size", rule, scheme, True, f"{category} enterprise: {described}")


def check_public_control(
    applicant: Applicant, scheme: Scheme, excepted_pct: Decimal = Decimal(0)
) -> RuleOutcome:
    """Annex Art. 3(4); `excepted_pct`: held by public investors of Art. 3(2), not counted."""
    limit = scheme.sme.ownership.public_body_max_share_pct_exclusive
    share = max(Decimal(0), applicant.public_bodies_share_pct - excepted_pct)
    if share >= limit.value:
        return _outcome(
            "sme.public_control",
            limit,
            scheme,
            False,
            f"public bodies hold {share}% of capital or votes: at {limit.value}% "
            "or more an enterprise is not an SME",
        )
    return _outcome(
        "sme.public_control",
        limit,
        scheme,
        True,
        f"public bodies hold {share}%, below {limit.value}%"
        + (
            f" (not counting {excepted_pct}% held by investors of Annex Art. 3(2))"
            if excepted_pct
            else ""
        ),
    )
