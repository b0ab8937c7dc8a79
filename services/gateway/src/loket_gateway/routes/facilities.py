"""Facilities publish their capacity, terms and deliveries: each only as itself (the token's
`facility_id` claim must be the facility in the path and in the body)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from loket_contracts import capacity as cap
from loket_contracts.bounds import ID_MAX
from loket_contracts.envelope import make_event
from loket_contracts.topics import FACILITY_CAPACITY
from loket_messaging import telemetry
from loket_messaging.facility_keys import facility_key, signed_headers
from pydantic import BaseModel

from loket_gateway import problems
from loket_gateway.auth import FACILITY, caller
from loket_gateway.identity import Principal
from loket_gateway.problems import Problem
from loket_gateway.state import State, StateDep

FacilityId = Annotated[str, Path(min_length=1, max_length=ID_MAX)]
SlotId = Annotated[str, Path(min_length=1, max_length=ID_MAX)]
Facility = Annotated[Principal, Depends(caller(FACILITY))]

router = APIRouter(
    tags=["facilities"],
    dependencies=[Depends(caller(FACILITY))],
    responses=problems.responses(401, 403, 429),
)


class Published(BaseModel):
    event_id: str
    topic: str
    type: str


async def _publish(
    state: State, who: Principal, facility_id: str, type_: str, body: cap._Body
) -> Published:
    if who.facility_id != facility_id:
        raise Problem(
            403,
            "not-this-facility",
            "A facility publishes only as itself",
            f"your token is for facility {who.facility_id!r}, not {facility_id!r}",
        )
    if body.facility_id != facility_id:
        raise Problem(
            422,
            "facility-mismatch",
            "facility_id does not match the URL",
            f"body facility_id {body.facility_id!r} ≠ {facility_id!r}",
        )
    event = make_event(
        source=f"facility/{facility_id}", type_=type_, body=body, subject=facility_id
    )
    assert state.producer is not None
    # Signed with the facility's key: the token proved who it is, the signature carries that
    # to the consumers.
    headers = signed_headers(facility_key(state.facility_master, facility_id), event)
    telemetry.inject(headers)  # outside the signature: a trace id is no facility's word
    await state.producer.send_and_wait(
        FACILITY_CAPACITY, value=event.data, key=facility_id.encode(), headers=headers
    )
    return Published(event_id=event.id, topic=FACILITY_CAPACITY, type=type_)


@router.put("/v1/facilities/{facility_id}/profile", status_code=202, response_model=Published)
async def facility_profile(
    facility_id: FacilityId, body: cap.FacilityProfile, state: StateDep, who: Facility
) -> Published:
    return await _publish(state, who, facility_id, cap.PROFILE, body)


@router.post("/v1/facilities/{facility_id}/slots", status_code=202, response_model=Published)
async def slot_published(
    facility_id: FacilityId, body: cap.SlotPublished, state: StateDep, who: Facility
) -> Published:
    return await _publish(state, who, facility_id, cap.SLOT_PUBLISHED, body)


@router.post(
    "/v1/facilities/{facility_id}/slots/{slot_id}/withdrawal",
    status_code=202,
    response_model=Published,
)
async def slot_withdrawn(
    facility_id: FacilityId,
    slot_id: SlotId,
    body: cap.SlotWithdrawn,
    state: StateDep,
    who: Facility,
) -> Published:
    if body.slot_id != slot_id:
        raise Problem(
            422,
            "slot-mismatch",
            "slot_id does not match the URL",
            f"body slot_id {body.slot_id!r} ≠ {slot_id!r}",
        )
    return await _publish(state, who, facility_id, cap.SLOT_WITHDRAWN, body)


@router.put("/v1/facilities/{facility_id}/terms", status_code=202, response_model=Published)
async def facility_terms(
    facility_id: FacilityId, body: cap.FacilityTerms, state: StateDep, who: Facility
) -> Published:
    """The facility's addendum to the harmonised agreement (for agreements drafted later)."""
    return await _publish(state, who, facility_id, cap.TERMS, body)


@router.post("/v1/facilities/{facility_id}/deliveries", status_code=202, response_model=Published)
async def delivery(
    facility_id: FacilityId, body: cap.Delivery, state: StateDep, who: Facility
) -> Published:
    """What the facility delivered on a booking it holds (checked against the booking)."""
    return await _publish(state, who, facility_id, cap.DELIVERY, body)
