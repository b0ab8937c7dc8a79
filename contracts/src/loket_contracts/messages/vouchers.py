"""Vouchers: screening, reservation, issuance, redemption, closure, queries."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from loket_contracts.bounds import INT64_MAX, CallId, Eur, Id, SaneDate, Seconds, Units
from loket_contracts.capacity import PriorityArea
from loket_contracts.messages.shared import DeclaredAid, SchemeVersion

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
    # aid: every grant of every instrument (no_aid included), for the programme's own figures
    register_id: Literal["gber_transparency", "de_minimis", "aid"]
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
