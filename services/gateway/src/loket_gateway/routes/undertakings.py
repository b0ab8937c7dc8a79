"""An undertaking's aid headroom: for its own people, managers and auditors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from loket_contracts import messages as m
from loket_contracts.bounds import ID_MAX, SaneDate

from loket_gateway import problems, service_queries
from loket_gateway.auth import APPLICANT, PROGRAMME, caller
from loket_gateway.problems import Problem
from loket_gateway.routes.applications import Reader
from loket_gateway.state import StateDep

MAX_HEADROOM_POINTS = 400  # keeps the reply far below the broker's message size

router = APIRouter(
    tags=["undertakings"],
    dependencies=[Depends(caller(APPLICANT, *PROGRAMME))],
    responses=problems.responses(401, 403, 429),
)


@router.get(
    "/v1/undertakings/{undertaking_id}/headroom",
    response_model=m.HeadroomReply,
    responses=problems.responses(404),
)
async def headroom(
    undertaking_id: Annotated[str, Path(min_length=1, max_length=ID_MAX)],
    state: StateDep,
    who: Reader,
    from_date: Annotated[SaneDate | None, Query(alias="from")] = None,
    to_date: Annotated[SaneDate | None, Query(alias="to")] = None,
    step_days: Annotated[int, Query(ge=1, le=366)] = 30,
    linked: Annotated[list[str] | None, Query(max_length=100)] = None,
) -> m.HeadroomReply:
    """De minimis and GBER Art. 28 headroom of a single undertaking, date by date: for the
    undertaking's own people, managers and auditors."""
    if not who.roles & set(PROGRAMME) and who.org != undertaking_id:
        raise Problem(
            404, "undertaking-not-found", "No such undertaking", f"no undertaking {undertaking_id}"
        )
    if linked and not who.roles & set(PROGRAMME):
        # Combined with others' undertakings, the answer would reveal their aid.
        raise Problem(
            403, "forbidden", "Not allowed", "only managers and auditors combine undertakings"
        )
    start = from_date or datetime.now(UTC).date()
    end = to_date or start + timedelta(days=365)
    if end < start:
        raise Problem(422, "bad-range", "`to` is before `from`", f"{start} > {end}")
    if (end - start).days // step_days > MAX_HEADROOM_POINTS:
        raise Problem(
            422,
            "range-too-long",
            "Too many dates asked for",
            f"at most {MAX_HEADROOM_POINTS} dates: widen step_days or shorten the range",
        )
    q = m.HeadroomQuery(
        undertaking_id=undertaking_id,
        linked_undertakings=linked or [],
        from_date=start,
        to_date=end,
        step_days=step_days,
    )
    return await service_queries.ask(state, m.HEADROOM_QUERY, q, m.HEADROOM_REPLY, m.HeadroomReply)
