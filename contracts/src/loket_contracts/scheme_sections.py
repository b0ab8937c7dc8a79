"""Scheme sections added by later scheme versions (pilot-2026-r2 on). A version without them
decides as it always did: the rules look for a section and keep the old behaviour when it is
absent, so applications already running keep the rules they started under."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from loket_contracts.sourced import Sourced

# The grounds a DifficultyDeclaration can state (GBER Art. 2(18)(a)-(d)).
DifficultyGround = Literal["capital_loss", "collective_insolvency", "rescue_restructuring"]
# Control relationships that make a single undertaking (Reg. (EU) 2023/2831 Art. 2(2)(a)-(d)),
# and one that links enterprises for the SME size only (Rec. 2003/361 Annex Art. 3(3) 4th
# subparagraph: natural persons acting jointly on the same or adjacent markets).
Relationship = Literal[
    "majority_voting_rights",
    "appoints_board_majority",
    "dominant_influence_by_contract",
    "controls_votes_by_agreement",
    "natural_persons_jointly",
]
# Investors that leave an enterprise autonomous at 25-50 % (Rec. 2003/361 Annex Art. 3(2)).
InvestorKind = Literal[
    "public_investment_corporation",
    "venture_capital",
    "business_angel",
    "university",
    "non_profit_research_centre",
    "institutional_investor",
    "regional_development_fund",
    "autonomous_local_authority",
    "other",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Exclusions(_Strict):
    """Which instruments an undertaking in difficulty loses, and which grounds refuse the
    application outright (the Financial Regulation's exclusion, and what the call adds)."""

    difficulty_removes: Sourced[list[Literal["gber_art28"]]]
    refusing_grounds: Sourced[list[DifficultyGround]]


class InvestorExceptions(_Strict):
    kinds: Sourced[list[InvestorKind]]
    business_angel_max_investment_eur_exclusive: Sourced[Decimal]
    local_authority_max_budget_eur_exclusive: Sourced[Decimal]
    local_authority_max_inhabitants_exclusive: Sourced[int]

    @model_validator(mode="after")
    def _positive(self) -> InvestorExceptions:
        if "other" in self.kinds.value:
            raise ValueError("'other' investors are never an exception")
        if (
            min(
                self.business_angel_max_investment_eur_exclusive.value,
                self.local_authority_max_budget_eur_exclusive.value,
                Decimal(self.local_authority_max_inhabitants_exclusive.value),
            )
            <= 0
        ):
            raise ValueError("investor exception thresholds must be positive")
        return self


class Groupings(_Strict):
    """Who counts with the applicant: for the SME size, and for the de minimis ceiling."""

    single_undertaking: Sourced[list[Relationship]]
    sme_linked: Sourced[list[Relationship]]

    @model_validator(mode="after")
    def _single_within_linked(self) -> Groupings:
        if not set(self.single_undertaking.value) <= set(self.sme_linked.value):
            raise ValueError("every single-undertaking relationship also links for SME size")
        return self
