"""Commands (workflow → service) and events (service → workflow) between Loket's parts.

Every message travels in a CloudEvents envelope whose `correlationid` is the application id.
The event type names below are the contract; bodies may gain optional fields, never lose them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from loket_contracts.capacity import AccessMode, PriorityArea, Unit

# ---- shared shapes -------------------------------------------------------------------------


class LinkedEnterprise(BaseModel):
    """An enterprise the applicant controls or is controlled by (Rec. 2003/361, Annex Art. 3(3))."""

    undertaking_id: str = Field(min_length=1)
    name: str
    staff_awu: float = Field(ge=0)
    turnover_eur: Decimal = Field(ge=0)
    balance_sheet_eur: Decimal = Field(ge=0)


class DeclaredAid(BaseModel):
    """Aid the single undertaking already received (declared by the applicant)."""

    granted_on: date
    amount_eur: Decimal = Field(ge=0)
    instrument: Literal["de_minimis", "gber_art28"] = "de_minimis"


class Applicant(BaseModel):
    undertaking_id: str = Field(min_length=1, description="VAT or company register number")
    name: str = Field(min_length=1)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="country of establishment")
    workplace_country: str = Field(pattern=r"^[A-Z]{2}$", description="where the team works")
    registered_on: date
    listed: bool = False
    staff_awu: float = Field(ge=0, description="annual work units, last closed period")
    turnover_eur: Decimal = Field(ge=0)
    balance_sheet_eur: Decimal = Field(ge=0)
    nace_code: str = Field(min_length=1, description="main activity, NACE Rev. 2")
    linked_enterprises: list[LinkedEnterprise] = Field(default_factory=list)
    declared_prior_aid: list[DeclaredAid] = Field(default_factory=list)


class Need(BaseModel):
    """One service the applicant needs: e.g. 3 shifts of X-ray imaging within a window."""

    service_type: str = Field(min_length=3)
    units: int = Field(ge=1, le=1000)
    earliest_start: datetime
    latest_end: datetime
    access_mode: AccessMode = "physical"


class AllocatedLine(BaseModel):
    facility_id: str
    facility_name: str
    site: str
    country: str
    kind: Literal["RI", "TI"]
    offering_id: str
    slot_id: str
    service_type: str
    unit: Unit
    units: int
    start: datetime
    end: datetime
    market_price_eur: Decimal
    market_value_eur: Decimal


class RuleOutcome(BaseModel):
    rule_id: str
    passed: bool
    legal_source: str
    reason: str


# ---- eligibility ---------------------------------------------------------------------------

ELIGIBILITY_REQUESTED = "eu.loket.eligibility.requested.v1"
ELIGIBILITY_DECIDED = "eu.loket.eligibility.decided.v1"


class EligibilityRequested(BaseModel):
    application_id: str
    applicant: Applicant
    priority_area: PriorityArea
    as_of: date


class EligibilityDecided(BaseModel):
    application_id: str
    outcome: Literal["eligible", "ineligible", "manual_review"]
    sme_category: Literal["micro", "small", "medium", "large"]
    scheme_version: str
    rules: list[RuleOutcome]

    @property
    def failed_reasons(self) -> list[str]:
        return [r.reason for r in self.rules if not r.passed]


# ---- allocation ----------------------------------------------------------------------------

HOLD_REQUESTED = "eu.loket.allocation.hold.requested.v1"
HOLD_PLACED = "eu.loket.allocation.hold.placed.v1"
HOLD_FAILED = "eu.loket.allocation.hold.failed.v1"
CONFIRM_REQUESTED = "eu.loket.allocation.confirm.requested.v1"
ALLOCATION_CONFIRMED = "eu.loket.allocation.confirmed.v1"
RELEASE_REQUESTED = "eu.loket.allocation.release.requested.v1"
ALLOCATION_RELEASED = "eu.loket.allocation.released.v1"


class HoldRequested(BaseModel):
    application_id: str
    applicant_workplace_country: str
    needs: list[Need] = Field(min_length=1)
    hold_ttl_seconds: int = Field(ge=1)


class HoldPlaced(BaseModel):
    application_id: str
    expires_at: datetime
    lines: list[AllocatedLine]
    reason: str


class HoldFailed(BaseModel):
    application_id: str
    reason: str


class AllocationRef(BaseModel):
    application_id: str


class AllocationConfirmed(BaseModel):
    application_id: str
    confirmed: bool
    reason: str


class AllocationReleased(BaseModel):
    application_id: str
    units_released: int
    reason: str = "released on request"


# ---- vouchers (state aid + budget) ---------------------------------------------------------

SCREENING_REQUESTED = "eu.loket.vouchers.screening.requested.v1"
AID_RESERVED = "eu.loket.vouchers.aid.reserved.v1"
SCREENING_REFUSED = "eu.loket.vouchers.screening.refused.v1"
ISSUE_REQUESTED = "eu.loket.vouchers.issue.requested.v1"
VOUCHER_ISSUED = "eu.loket.vouchers.issued.v1"
RESERVATION_RELEASE_REQUESTED = "eu.loket.vouchers.release.requested.v1"
RESERVATION_RELEASED = "eu.loket.vouchers.released.v1"

Instrument = Literal["no_aid", "de_minimis", "gber_art28"]


class ScreeningRequested(BaseModel):
    application_id: str
    undertaking_id: str
    linked_undertakings: list[str] = Field(default_factory=list)
    declared_prior_aid: list[DeclaredAid] = Field(default_factory=list)
    call_id: str
    priority_area: PriorityArea
    market_value_eur: Decimal = Field(ge=0)
    applicant_payment_eur: Decimal = Field(ge=0)
    as_of: date


class AidReserved(BaseModel):
    application_id: str
    instrument: Instrument
    aid_element_eur: Decimal
    voucher_eur: Decimal
    co_payment_eur: Decimal
    de_minimis_headroom_after_eur: Decimal
    scheme_version: str
    reason: str


class ScreeningRefused(BaseModel):
    application_id: str
    code: Literal["de_minimis_headroom_exhausted", "budget_exhausted", "unknown_call"]
    scheme_version: str
    reason: str


class VoucherRef(BaseModel):
    application_id: str


class VoucherIssued(BaseModel):
    application_id: str
    voucher_id: str
    voucher_eur: Decimal
    instrument: Instrument
    granted_on: date


class ReservationReleased(BaseModel):
    application_id: str
    released_eur: Decimal


# ---- charter -------------------------------------------------------------------------------

TERMS_REQUESTED = "eu.loket.charter.terms.requested.v1"
TERMS_RENDERED = "eu.loket.charter.terms.rendered.v1"


class TermsRequested(BaseModel):
    application_id: str
    applicant_name: str
    applicant_country: str
    lines: list[AllocatedLine]
    instrument: Instrument
    aid_element_eur: Decimal
    voucher_eur: Decimal
    co_payment_eur: Decimal
    language: str = "en"


class TermsRendered(BaseModel):
    application_id: str
    template_id: str
    template_version: str
    text: str
    sha256: str


BODIES: dict[str, type[BaseModel]] = {
    ELIGIBILITY_REQUESTED: EligibilityRequested,
    ELIGIBILITY_DECIDED: EligibilityDecided,
    HOLD_REQUESTED: HoldRequested,
    HOLD_PLACED: HoldPlaced,
    HOLD_FAILED: HoldFailed,
    CONFIRM_REQUESTED: AllocationRef,
    ALLOCATION_CONFIRMED: AllocationConfirmed,
    RELEASE_REQUESTED: AllocationRef,
    ALLOCATION_RELEASED: AllocationReleased,
    SCREENING_REQUESTED: ScreeningRequested,
    AID_RESERVED: AidReserved,
    SCREENING_REFUSED: ScreeningRefused,
    ISSUE_REQUESTED: VoucherRef,
    VOUCHER_ISSUED: VoucherIssued,
    RESERVATION_RELEASE_REQUESTED: VoucherRef,
    RESERVATION_RELEASED: ReservationReleased,
    TERMS_REQUESTED: TermsRequested,
    TERMS_RENDERED: TermsRendered,
}
