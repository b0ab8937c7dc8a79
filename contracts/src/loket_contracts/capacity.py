"""Public facility capacity contract: topic `loket.facility.capacity.v1`, key = facility id.

External producers publish these with any Kafka client (CloudEvents binary mode, `ce_source:
facility/<facility_id>`). `sequence` increases strictly per facility across all its events, so
duplicates and out-of-order delivery are harmless.
"""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from loket_contracts.bounds import (
    ID_MAX,
    TEXT_MAX,
    CountryCode,
    Id,
    Name,
    PriceEur,
    SaneTime,
    Sequence,
    Units,
)
from loket_contracts.envelope import CloudEvent, EnvelopeError

PROFILE = "eu.loket.facility.profile.v1"
SLOT_PUBLISHED = "eu.loket.facility.slot.published.v1"
SLOT_WITHDRAWN = "eu.loket.facility.slot.withdrawn.v1"
DELIVERY = "eu.loket.facility.delivery.v1"
TERMS = "eu.loket.facility.terms.v1"  # the facility's addendum to the harmonised agreement

Unit = Literal["shift", "hour", "day"]
AccessMode = Literal["physical", "remote", "virtual"]
PriorityArea = Literal["advanced-materials", "clean-energy", "quantum", "ai", "health-biotech"]


class _Body(BaseModel):
    # Loket may add optional fields; producers may send fields we do not know yet.
    model_config = ConfigDict(extra="ignore")
    facility_id: str = Field(min_length=1, max_length=120)
    sequence: Sequence


class Offering(BaseModel):
    offering_id: Id
    service_type: str = Field(min_length=3, max_length=ID_MAX, pattern=r"^[a-z0-9-]+\.[a-z0-9.-]+$")
    unit: Unit
    market_price_eur: PriceEur
    access_modes: list[AccessMode] = Field(min_length=1, max_length=3)


class FacilityProfile(_Body):
    name: Name
    site: Name
    country: CountryCode
    kind: Literal["RI", "TI"]
    # ERICs and international organisations may serve users of their host country too.
    legal_form: Literal["ERIC", "international_organisation"] | None = None
    priority_areas: list[PriorityArea] = Field(default_factory=list, max_length=5)
    offerings: list[Offering] = Field(min_length=1, max_length=50)


class SlotPublished(_Body):
    slot_id: Id
    offering_id: Id
    start: SaneTime
    end: SaneTime
    capacity_units: Units

    @model_validator(mode="after")
    def _end_after_start(self) -> SlotPublished:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end need a UTC offset (RFC 3339)")
        return self


class SlotWithdrawn(_Body):
    slot_id: Id
    reason: str = Field(min_length=1, max_length=TEXT_MAX)


class Delivery(_Body):
    application_id: Id
    slot_id: Id
    units_delivered: Units
    delivered_at: SaneTime


class FacilityTerms(_Body):
    """A facility's addendum: applies to agreements drafted after it arrives."""

    safety_rules: str = Field(min_length=1, max_length=2000)
    sample_handling: str = Field(min_length=1, max_length=2000)
    local_law_notes: str = Field(min_length=1, max_length=2000)


CAPACITY_BODIES: dict[str, type[_Body]] = {
    PROFILE: FacilityProfile,
    SLOT_PUBLISHED: SlotPublished,
    SLOT_WITHDRAWN: SlotWithdrawn,
    DELIVERY: Delivery,
    TERMS: FacilityTerms,
}


FacilityEventT = TypeVar("FacilityEventT", bound=_Body)


def decode(event: CloudEvent, model: type[FacilityEventT]) -> FacilityEventT:
    """Validate a facility event: its body, and that `ce_source` names the same facility (one
    facility cannot publish another's capacity or terms). Raises EnvelopeError with the reason."""
    body = event.decode(model)
    expected = f"facility/{body.facility_id}"
    if event.source != expected:
        raise EnvelopeError(
            f"ce_source {event.source!r} does not match facility_id: want {expected!r}"
        )
    return body
