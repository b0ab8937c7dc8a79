"""Allocation: holds, confirmation, release, batch rounds, deliveries, booking closure, queries."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from loket_contracts.bounds import ID_MAX, INT64_MAX, CallId, CountryCode, Id, SaneTime, Seconds
from loket_contracts.capacity import AccessMode, PriorityArea, Unit
from loket_contracts.messages.shared import AllocatedLine, Need, check_order

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
    # A batch call's application: queued for the call's round at its cut-off, answered then
    # (HoldPlaced or HoldFailed). After the round has run, a late one is served first come.
    batch_call_id: CallId | None = None


ROUND_REQUESTED = "eu.loket.allocation.round.requested.v1"
ROUND_SOLVED = "eu.loket.allocation.round.solved.v1"


class RoundEntry(BaseModel):
    hold: HoldRequested
    weight: float = Field(
        default=1.0, gt=0, le=1000, allow_inf_nan=False
    )  # e.g. the call's priority weighting


class RoundRequested(BaseModel):
    """Call cut-off: allocate all these applications together, optimally. With `call_id`,
    the holds queued for that batch call join `entries`."""

    round_id: Id
    entries: list[RoundEntry] = Field(default_factory=list, max_length=10_000)
    country_share_cap: float | None = Field(default=None, gt=0, le=1)
    call_id: CallId | None = None


class RoundSolved(BaseModel):
    round_id: str
    served: list[str]
    unserved: list[str]
    objective: float
    lp_bound: float
    gap: float
    status: str
    solve_seconds: float
    call_id: str | None = None
    # Fairness: how many applicants of each workplace country asked, and how many were served.
    requested_by_country: dict[str, int] = Field(default_factory=dict)
    served_by_country: dict[str, int] = Field(default_factory=dict)


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
    from_time: SaneTime | None = None
    to_time: SaneTime | None = None
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
    """Bookings (confirmed, or delivered and completed) from applicants of one country at
    facilities of another; units as booked."""

    applicant_country: str
    facility_country: str
    bookings: int
    units: int
    market_value_eur: Decimal = Decimal(0)  # the units at the facilities' market prices


class UtilisationReply(BaseModel):
    facilities: list[Utilisation]
    countries: list[Utilisation]
    flows: list[Flow]
    next_offset: int | None = None  # more facilities follow from here
