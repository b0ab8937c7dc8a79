"""Commands (workflow → service) and events (service → workflow) between Loket's parts.

Every message travels in a CloudEvents envelope whose `correlationid` is the application id.
The event type names below are the contract; bodies may gain optional fields, never lose them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from loket_contracts.bounds import (
    ID_MAX,
    INT64_MAX,
    Awu,
    CallId,
    CountryCode,
    Eur,
    Id,
    Name,
    Percent,
    SaneDate,
    SaneTime,
    Seconds,
    Units,
)
from loket_contracts.capacity import AccessMode, PriorityArea, Unit
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


# ---- eligibility ---------------------------------------------------------------------------

ELIGIBILITY_REQUESTED = "eu.loket.eligibility.requested.v1"
ELIGIBILITY_DECIDED = "eu.loket.eligibility.decided.v1"


class EligibilityRequested(BaseModel):
    application_id: Id
    applicant: Applicant
    priority_area: PriorityArea
    as_of: date
    scheme_version: SchemeVersion | None = None  # None: pilot-2026, the first version


class EligibilityDecided(BaseModel):
    application_id: Id
    outcome: Literal["eligible", "ineligible", "manual_review"]
    sme_category: Literal["micro", "small", "medium", "large"]
    scheme_version: str
    rules: list[RuleOutcome]
    # From pilot-2026-r2: instruments the applicant may not get (GBER when in difficulty) and
    # the single undertaking for de minimis (None: every linked enterprise, as before).
    excluded_instruments: list[Literal["gber_art28"]] = Field(default_factory=list, max_length=1)
    single_undertaking: list[Id] | None = Field(default=None, max_length=100)

    @property
    def failed_reasons(self) -> list[str]:
        return [r.reason for r in self.rules if not r.passed or r.needs_review]


# ---- allocation ----------------------------------------------------------------------------

HOLD_REQUESTED = "eu.loket.allocation.hold.requested.v1"
HOLD_PLACED = "eu.loket.allocation.hold.placed.v1"
HOLD_FAILED = "eu.loket.allocation.hold.failed.v1"
CONFIRM_REQUESTED = "eu.loket.allocation.confirm.requested.v1"
ALLOCATION_CONFIRMED = "eu.loket.allocation.confirmed.v1"
RELEASE_REQUESTED = "eu.loket.allocation.release.requested.v1"
ALLOCATION_RELEASED = "eu.loket.allocation.released.v1"
ALLOCATION_INVALIDATED = "eu.loket.allocation.invalidated.v1"


Needs = Annotated[list[Need], AfterValidator(check_order)]
# English is binding; the others are translations marked as such.
Language = Literal["en", "nl", "de", "fr"]


class HoldRequested(BaseModel):
    application_id: Id
    applicant_workplace_country: CountryCode
    needs: Needs = Field(min_length=1, max_length=20)
    hold_ttl_seconds: Seconds


ROUND_REQUESTED = "eu.loket.allocation.round.requested.v1"
ROUND_SOLVED = "eu.loket.allocation.round.solved.v1"


class RoundEntry(BaseModel):
    hold: HoldRequested
    weight: float = Field(
        default=1.0, gt=0, le=1000, allow_inf_nan=False
    )  # e.g. the call's priority weighting


class RoundRequested(BaseModel):
    """Call cut-off: allocate all these applications together, optimally."""

    round_id: Id
    entries: list[RoundEntry] = Field(min_length=1, max_length=10_000)
    country_share_cap: float | None = Field(default=None, gt=0, le=1)


class RoundSolved(BaseModel):
    round_id: str
    served: list[str]
    unserved: list[str]
    objective: float
    lp_bound: float
    gap: float
    status: str
    solve_seconds: float


class HoldPlaced(BaseModel):
    application_id: Id
    expires_at: datetime
    lines: list[AllocatedLine]
    reason: str


class HoldFailed(BaseModel):
    application_id: Id
    reason: str


class AllocationRef(BaseModel):
    application_id: Id


class AllocationConfirmed(BaseModel):
    application_id: Id
    confirmed: bool
    reason: str


class AllocationInvalidated(BaseModel):
    """A facility withdrew or shrank capacity under this application's hold or booking. The
    hold is released; the workflow re-allocates or compensates."""

    application_id: Id
    facility_id: str
    slot_id: str
    was: Literal["held", "confirmed"]
    reason: str


class AllocationReleased(BaseModel):
    application_id: Id
    units_released: int
    reason: str = "released on request"


# ---- delivery and closure of a booking (SPEC lifecycle steps 8-9) --------------------------

DELIVERY_RECORDED = "eu.loket.allocation.delivery.recorded.v1"
BOOKING_CLOSE_REQUESTED = "eu.loket.allocation.booking.close.requested.v1"
BOOKING_CLOSED = "eu.loket.allocation.booking.closed.v1"


class DeliveryRecorded(BaseModel):
    """A facility's delivery report, checked against the booking: never more than booked."""

    application_id: Id
    delivery_id: str  # facility_id/sequence: one report however often it arrives
    facility_id: str
    slot_id: str
    units: int = Field(ge=1)
    market_value_eur: Decimal  # of the delivered units at the booked unit price
    delivered_at: datetime
    units_delivered_total: int  # over the whole booking, this report included
    units_booked_total: int


class BookingClose(BaseModel):
    application_id: Id
    reason: str = Field(max_length=500)


class BookingClosed(BaseModel):
    """Undelivered units went back to their facilities; delivered ones stay on record."""

    application_id: Id
    units_delivered: int
    units_released: int
    reason: str


# ---- allocation queries (request/reply like the vouchers queries) --------------------------

CATALOGUE_QUERY = "eu.loket.allocation.catalogue.query.v1"
CATALOGUE_REPLY = "eu.loket.allocation.catalogue.reply.v1"
UTILISATION_QUERY = "eu.loket.allocation.utilisation.query.v1"
UTILISATION_REPLY = "eu.loket.allocation.utilisation.reply.v1"


class CatalogueQuery(BaseModel):
    service_type: str | None = Field(default=None, max_length=ID_MAX)
    country: CountryCode | None = None
    from_time: datetime | None = None
    to_time: datetime | None = None
    access_mode: AccessMode | None = None
    priority_area: PriorityArea | None = None
    kind: Literal["RI", "TI"] | None = None
    only_free: bool = True
    limit: int = Field(default=200, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=INT64_MAX)


class CatalogueSlot(BaseModel):
    facility_id: str
    facility_name: str
    site: str
    country: str
    kind: Literal["RI", "TI"]
    legal_form: str | None
    priority_areas: list[str]
    offering_id: str
    service_type: str
    unit: Unit
    market_price_eur: Decimal
    access_modes: list[str]
    slot_id: str
    start: datetime
    end: datetime
    capacity_units: int
    free_units: int


class CatalogueReply(BaseModel):
    slots: list[CatalogueSlot]
    truncated: bool
    next_offset: int | None = None  # more slots follow from here


class UtilisationQuery(BaseModel):
    """Facilities a page at a time (countries and flows are always whole: they are few)."""

    offset: int = Field(default=0, ge=0, le=INT64_MAX)
    limit: int = Field(default=500, ge=1, le=1000)


class Utilisation(BaseModel):
    key: str  # facility id, or country code
    name: str
    country: str
    published_units: int
    held_units: int
    booked_units: int
    utilisation: Decimal  # booked / published


class Flow(BaseModel):
    """Confirmed bookings from applicants of one country at facilities of another."""

    applicant_country: str
    facility_country: str
    bookings: int
    units: int


class UtilisationReply(BaseModel):
    facilities: list[Utilisation]
    countries: list[Utilisation]
    flows: list[Flow]
    next_offset: int | None = None  # more facilities follow from here


# ---- vouchers (state aid + budget) ---------------------------------------------------------

SCREENING_REQUESTED = "eu.loket.vouchers.screening.requested.v1"
AID_RESERVED = "eu.loket.vouchers.aid.reserved.v1"
SCREENING_REFUSED = "eu.loket.vouchers.screening.refused.v1"
ISSUE_REQUESTED = "eu.loket.vouchers.issue.requested.v1"
VOUCHER_ISSUED = "eu.loket.vouchers.issued.v1"
# pilot-2026-r2: at issuance the de minimis headroom was gone; the aid was screened again
# (body: AidReserved with the new instrument) and needs a new agreement before issuance.
AID_RESCREENED = "eu.loket.vouchers.aid.rescreened.v1"
RESERVATION_RELEASE_REQUESTED = "eu.loket.vouchers.release.requested.v1"
RESERVATION_RELEASED = "eu.loket.vouchers.released.v1"

Instrument = Literal["no_aid", "de_minimis", "gber_art28"]


class ScreeningRequested(BaseModel):
    application_id: Id
    undertaking_id: Id
    linked_undertakings: list[Id] = Field(default_factory=list, max_length=100)
    declared_prior_aid: list[DeclaredAid] = Field(default_factory=list, max_length=100)
    call_id: CallId
    priority_area: PriorityArea
    market_value_eur: Eur
    applicant_payment_eur: Eur
    as_of: date
    sme: bool = True  # from the eligibility decision: GBER Art. 28 is for SMEs only
    excluded_instruments: list[Literal["gber_art28"]] = Field(default_factory=list, max_length=1)
    scheme_version: SchemeVersion | None = None  # None: the service's own
    hold_ttl_seconds: Seconds | None = None  # default: the scheme's


class AidReserved(BaseModel):
    application_id: Id
    instrument: Instrument
    intensity: Decimal = Decimal(1)
    aid_element_eur: Decimal
    voucher_eur: Decimal
    co_payment_eur: Decimal
    de_minimis_headroom_after_eur: Decimal
    scheme_version: str
    legal_source: str = ""
    reason: str


class ScreeningRefused(BaseModel):
    application_id: Id
    code: Literal[
        "de_minimis_headroom_exhausted", "budget_exhausted", "unknown_call", "manual_review"
    ]
    scheme_version: str
    reason: str


class VoucherRef(BaseModel):
    application_id: Id


class VoucherIssued(BaseModel):
    application_id: Id
    voucher_id: str
    voucher_eur: Decimal
    instrument: Instrument
    granted_on: date


REDEEM_REQUESTED = "eu.loket.vouchers.redeem.requested.v1"
VOUCHER_REDEEMED = "eu.loket.vouchers.redeemed.v1"
VOUCHER_CLOSE_REQUESTED = "eu.loket.vouchers.close.requested.v1"
VOUCHER_CLOSED = "eu.loket.vouchers.closed.v1"


class Redemption(BaseModel):
    """Pay a facility's delivery from the voucher."""

    application_id: Id
    delivery_id: Id
    units: Units
    market_value_eur: Eur


class VoucherRedeemed(BaseModel):
    application_id: Id
    voucher_id: str
    delivery_id: str
    redeemed_eur: Decimal  # by this delivery
    redeemed_total_eur: Decimal
    remaining_eur: Decimal


class VoucherClose(BaseModel):
    application_id: Id
    reason: str = Field(max_length=500)


class VoucherClosed(BaseModel):
    """The voucher ended (expired, fully used, cancelled or withdrawn): its unused value went
    back to the call budget and the recorded aid is what was used, where the scheme says so."""

    application_id: Id
    voucher_id: str
    redeemed_eur: Decimal
    released_eur: Decimal
    aid_recorded_eur: Decimal
    legal_source: str
    reason: str


class ReservationReleased(BaseModel):
    application_id: Id
    released_eur: Decimal
    reason: str = "released on request"


# ---- vouchers queries (request/reply: the reply's correlationid is the query's ce_id) ------

HEADROOM_QUERY = "eu.loket.vouchers.headroom.query.v1"
HEADROOM_REPLY = "eu.loket.vouchers.headroom.reply.v1"
BUDGET_QUERY = "eu.loket.vouchers.budget.query.v1"
BUDGET_REPLY = "eu.loket.vouchers.budget.reply.v1"
REGISTER_QUERY = "eu.loket.vouchers.register.query.v1"
REGISTER_REPLY = "eu.loket.vouchers.register.reply.v1"


class HeadroomQuery(BaseModel):
    undertaking_id: Id
    linked_undertakings: list[Id] = Field(default_factory=list, max_length=100)
    from_date: SaneDate
    to_date: SaneDate
    step_days: int = Field(default=30, ge=1, le=366)


class HeadroomPoint(BaseModel):
    on: date
    de_minimis_used_eur: Decimal
    de_minimis_headroom_eur: Decimal
    art28_used_eur: Decimal
    art28_full_intensity_headroom_eur: Decimal


class HeadroomReply(BaseModel):
    undertaking_id: str
    single_undertaking: list[str]
    scheme_version: str
    points: list[HeadroomPoint]


class BudgetQuery(BaseModel):
    call_id: CallId


class BudgetArea(BaseModel):
    priority_area: str
    total_eur: Decimal
    reserved_eur: Decimal
    granted_eur: Decimal
    available_eur: Decimal


class BudgetReply(BaseModel):
    call_id: CallId
    scheme_version: str
    areas: list[BudgetArea]


class RegisterQuery(BaseModel):
    register_id: Literal["gber_transparency", "de_minimis"]
    offset: int = Field(default=0, ge=0, le=INT64_MAX)
    limit: int = Field(default=500, ge=1, le=1000)


class RegisterRow(BaseModel):
    application_id: Id
    voucher_id: str | None
    undertaking_id: str
    instrument: Instrument
    aid_eur: Decimal
    intensity: Decimal
    granted_on: date
    call_id: CallId
    priority_area: str
    legal_source: str


class RegisterReply(BaseModel):
    register_id: str
    scheme_version: str
    rows: list[RegisterRow]
    next_offset: int | None = None  # more rows follow from here


# ---- charter -------------------------------------------------------------------------------

TERMS_REQUESTED = "eu.loket.charter.terms.requested.v1"
TERMS_RENDERED = "eu.loket.charter.terms.rendered.v1"
ACCEPTANCE_RECORDED = "eu.loket.charter.acceptance.recorded.v1"  # body: AcceptanceRecord


class TermsRequested(BaseModel):
    application_id: Id
    applicant_name: Name
    applicant_country: CountryCode
    lines: list[AllocatedLine] = Field(max_length=50)
    instrument: Instrument
    aid_element_eur: Eur
    voucher_eur: Eur
    co_payment_eur: Eur
    language: Language = "en"
    # pilot-access when a voucher pays part, paid-access at market price; derived when absent
    mode: Literal["pilot-access", "paid-access"] | None = None


class TermsRendered(BaseModel):
    application_id: Id
    template_id: str
    template_version: str
    text: str
    sha256: str
    language: Language = "en"
    documents: dict[str, str] = Field(
        default_factory=dict, description="rendered files by format (md, html, pdf)"
    )


DOCUMENT_QUERY = "eu.loket.charter.document.query.v1"
DOCUMENT_REPLY = "eu.loket.charter.document.reply.v1"


class DocumentQuery(BaseModel):
    """An agreement as a file: asked by the gateway for the application's owner."""

    application_id: Id
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    format: Literal["md", "html", "pdf"]


class DocumentReply(BaseModel):
    application_id: Id
    found: bool
    media_type: str | None = None
    content_b64: str | None = None  # the file, base64 (a PDF agreement is tens of KB)


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
    ALLOCATION_INVALIDATED: AllocationInvalidated,
    ROUND_REQUESTED: RoundRequested,
    ROUND_SOLVED: RoundSolved,
    SCREENING_REQUESTED: ScreeningRequested,
    AID_RESERVED: AidReserved,
    SCREENING_REFUSED: ScreeningRefused,
    AID_RESCREENED: AidReserved,
    ISSUE_REQUESTED: VoucherRef,
    VOUCHER_ISSUED: VoucherIssued,
    RESERVATION_RELEASE_REQUESTED: VoucherRef,
    RESERVATION_RELEASED: ReservationReleased,
    HEADROOM_QUERY: HeadroomQuery,
    HEADROOM_REPLY: HeadroomReply,
    BUDGET_QUERY: BudgetQuery,
    BUDGET_REPLY: BudgetReply,
    REGISTER_QUERY: RegisterQuery,
    REGISTER_REPLY: RegisterReply,
    CATALOGUE_QUERY: CatalogueQuery,
    CATALOGUE_REPLY: CatalogueReply,
    UTILISATION_QUERY: UtilisationQuery,
    UTILISATION_REPLY: UtilisationReply,
    TERMS_REQUESTED: TermsRequested,
    TERMS_RENDERED: TermsRendered,
    DOCUMENT_QUERY: DocumentQuery,
    DOCUMENT_REPLY: DocumentReply,
    DELIVERY_RECORDED: DeliveryRecorded,
    BOOKING_CLOSE_REQUESTED: BookingClose,
    BOOKING_CLOSED: BookingClosed,
    REDEEM_REQUESTED: Redemption,
    VOUCHER_REDEEMED: VoucherRedeemed,
    VOUCHER_CLOSE_REQUESTED: VoucherClose,
    VOUCHER_CLOSED: VoucherClosed,
}
