"""What anyone may read without logging in: the catalogue (the single access point) and the
GBER Art. 9 transparency register, which the law makes public."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from loket_contracts import messages as m
from loket_contracts.bounds import ID_MAX, INT64_MAX, SaneTime
from loket_contracts.capacity import PriorityArea
from loket_contracts.topics import ALLOCATION_QUERIES

from loket_gateway import service_queries
from loket_gateway.state import StateDep

router = APIRouter(tags=["public"])
Offset = Annotated[int, Query(ge=0, le=INT64_MAX)]


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/v1/catalogue", response_model=m.CatalogueReply)
async def catalogue(
    state: StateDep,
    service_type: Annotated[str | None, Query(max_length=ID_MAX)] = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    from_time: Annotated[SaneTime | None, Query(alias="from")] = None,  # no offset: UTC
    to_time: Annotated[SaneTime | None, Query(alias="to")] = None,
    access_mode: Literal["physical", "remote", "virtual"] | None = None,
    priority_area: PriorityArea | None = None,
    kind: Literal["RI", "TI"] | None = None,
    only_free: bool = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    offset: Offset = 0,
) -> m.CatalogueReply:
    """The single access point: offerings and free capacity across every facility."""
    q = m.CatalogueQuery(
        service_type=service_type,
        country=country,
        from_time=from_time,
        to_time=to_time,
        access_mode=access_mode,
        priority_area=priority_area,
        kind=kind,
        only_free=only_free,
        limit=limit,
        offset=offset,
    )
    return await service_queries.ask(
        state, m.CATALOGUE_QUERY, q, m.CATALOGUE_REPLY, m.CatalogueReply, ALLOCATION_QUERIES
    )


@router.get(
    "/v1/registers/gber_transparency",
    response_model=m.RegisterReply,
    responses={200: {"content": {"text/csv": {}}}},
)
async def transparency_register(
    state: StateDep,
    format: Literal["json", "csv"] = "json",
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> Any:
    """GBER Art. 9 transparency: awards over the threshold, public by law."""
    return await service_queries.register(state, "gber_transparency", format, offset, limit)
