"""Shapes every service shares: the applicant, needs, allocated lines, rule outcomes."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from loket_contracts.bounds import (
    ID_MAX,
    Awu,
    CountryCode,
    Eur,
    Id,
    Name,
    Percent,
    SaneDate,
    SaneTime,
    Units,
)
from loket_contracts.capacity import AccessMode, Unit
from loket_contracts.scheme_sections import InvestorKind, Relationship

# ---- shared shapes -------------------------------------------------------------------------

SchemeVersion = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{0,39}$")]


class LinkedEnterprise(BaseModel):
    """An enterprise the applicant controls or is controlled by (Rec. 2003/361, Annex Art. 3(3))."""

    undertaking_id: Id
    name: Name
    staff_awu: Awu
    turnover_eur: Eur
    balance_sheet_eur: Eur
    relationship: Relationship | None = Field(
        default=None,
        description="how it is linked: one of the four controls of Reg. (EU) 2023/2831 "
        "Art. 2(2)(a)-(d) (then it is part of the single undertaking for de minimis), or "
        "natural_persons_jointly (Rec. 2003/361 Annex Art. 3(3): it counts for the SME size "
        "only). Not given: treated as a control, the cautious reading",
    )


class Investor(BaseModel):
    """Who holds a share of the applicant (Rec. 2003/361 Annex Art. 3(2)): some investors leave
    an enterprise autonomous at 25-50 % and do not count as public control."""

    name: Name
    kind: InvestorKind
    share_pct: Percent
    public_body: bool = False
    invested_eur: Eur | None = Field(
        default=None, description="business angels: their total investment in the applicant"
    )
    annual_budget_eur: Eur | None = Field(default=None, description="local authorities")
    inhabitants: int | None = Field(default=None, ge=0, le=100_000_000)


class PartnerEnterprise(BaseModel):
    """An enterprise holding, or held by the applicant at, 25-50 % (Rec. 2003/361 Annex Art. 3(2)).
    A share above 50 % makes it linked; below 25 % it does not count."""

    undertaking_id: Id
    name: Name
    share_pct: Percent
    staff_awu: Awu
    turnover_eur: Eur
    balance_sheet_eur: Eur


class FinancialPeriod(BaseModel):
    """The applicant's own figures for one closed accounting period."""

    closed_on: SaneDate
    staff_awu: Awu
    turnover_eur: Eur
    balance_sheet_eur: Eur


class DifficultyDeclaration(BaseModel):
    """Undertaking in difficulty, GBER Art. 2(18). `None` = the applicant cannot say: a
    programme manager reviews it."""

    more_than_half_capital_lost: bool | None = False
    collective_insolvency: bool | None = False
    rescue_aid_outstanding: bool | None = False
    under_restructuring_plan: bool | None = False


class DeclaredAid(BaseModel):
    """Aid the single undertaking already received (declared by the applicant)."""

    granted_on: SaneDate
    amount_eur: Eur
    instrument: Literal["de_minimis", "gber_art28"] = "de_minimis"


class Applicant(BaseModel):
    undertaking_id: Id = Field(description="VAT or company register number")
    name: Name
    country: str = Field(pattern=r"^[A-Z]{2}$", description="country of establishment")
    workplace_country: str = Field(pattern=r"^[A-Z]{2}$", description="where the team works")
    registered_on: SaneDate
    listed: bool = False
    staff_awu: Awu = Field(description="annual work units, last closed period")
    turnover_eur: Eur
    balance_sheet_eur: Eur
    nace_code: str = Field(min_length=1, max_length=10, description="main activity, NACE Rev. 2")
    linked_enterprises: list[LinkedEnterprise] = Field(default_factory=list, max_length=50)
    partner_enterprises: list[PartnerEnterprise] = Field(default_factory=list, max_length=50)
    public_bodies_share_pct: Percent = Field(
        default=Decimal(0),
        description="capital or votes held by public bodies, investors listed below included",
    )
    investors: list[Investor] = Field(default_factory=list, max_length=50)
    previous_period: FinancialPeriod | None = Field(
        default=None, description="own figures for the period before the last closed one"
    )
    difficulty: DifficultyDeclaration = Field(default_factory=DifficultyDeclaration)
    outstanding_recovery_order: bool | None = False
    declared_prior_aid: list[DeclaredAid] = Field(default_factory=list, max_length=100)


class Need(BaseModel):
    """One service the applicant needs: e.g. 3 shifts of X-ray imaging within a window."""

    service_type: str = Field(min_length=3, max_length=ID_MAX)
    units: int = Field(ge=1, le=1000)
    earliest_start: SaneTime
    latest_end: SaneTime
    access_mode: AccessMode = "physical"
    preferred_sites: list[Id] = Field(
        default_factory=list,
        max_length=20,
        description="facility ids the applicant prefers, if free",
    )
    after: int | None = Field(
        default=None,
        ge=0,
        le=19,
        description="index of an earlier need that must end before this starts",
    )

    @model_validator(mode="after")
    def _window(self) -> Need:
        if self.latest_end <= self.earliest_start:
            raise ValueError("latest_end must be after earliest_start")
        return self


def check_order(needs: list[Need]) -> list[Need]:
    """`after` may only point at an earlier need: the order is a chain, never a cycle."""
    for index, need in enumerate(needs):
        if need.after is not None and need.after >= index:
            raise ValueError(f"needs[{index}].after must name an earlier need, not {need.after}")
    return needs


class AllocatedLine(BaseModel):
    facility_id: Id
    facility_name: Name
    site: Name
    country: CountryCode
    kind: Literal["RI", "TI"]
    offering_id: Id
    slot_id: Id
    service_type: str = Field(max_length=ID_MAX)
    unit: Unit
    units: Units
    start: SaneTime
    end: SaneTime
    market_price_eur: Eur
    market_value_eur: Eur
    access_mode: AccessMode = "physical"


class RuleOutcome(BaseModel):
    rule_id: str
    passed: bool
    legal_source: str
    reason: str
    needs_review: bool = False  # the rule could not be decided from the declaration
    scheme_version: str = ""
