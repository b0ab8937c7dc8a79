"""The programme over time: the services answer with how budgets and capacity stand now, so the
gateway asks them every LOKET_SNAPSHOT_S (an hour; at start too) and keeps the answers.
`GET /v1/history/{kind}` and the console's time plots read them back."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from loket_contracts import messages as m
from loket_contracts.topics import ALLOCATION_QUERIES
from loket_messaging.db import read_only, unit_of_work
from pydantic import BaseModel
from sqlalchemy import select
from sqlmodel import col

from loket_gateway import service_queries
from loket_gateway.problems import Problem
from loket_gateway.state import State
from loket_gateway.tables import SnapshotRow

log = logging.getLogger("loket.gateway.history")
SNAPSHOT_S = float(os.environ.get("LOKET_SNAPSHOT_S", 3600))
Kind = Literal["budget", "utilisation"]


class HistoryPoint(BaseModel):
    at: datetime
    key: str  # "call · area" for the budget, a facility country for utilisation
    values: dict[str, Decimal]


async def take(state: State) -> int:
    """One snapshot of every call's budget and every country's capacity; rows written."""
    now = datetime.now(UTC)
    rows = []
    for call in await asyncio.to_thread(state.call_ids):
        reply = await service_queries.ask(
            state, m.BUDGET_QUERY, m.BudgetQuery(call_id=call), m.BUDGET_REPLY, m.BudgetReply
        )
        for a in reply.areas:
            values = {
                "total": a.total_eur,
                "reserved": a.reserved_eur,
                "granted": a.granted_eur,
                "available": a.available_eur,
            }
            rows.append(
                SnapshotRow(
                    at=now,
                    kind="budget",
                    key=f"{call} · {a.priority_area}",
                    values_json=json.dumps(values, default=str),
                )
            )
    usage = await service_queries.ask(
        state,
        m.UTILISATION_QUERY,
        m.UtilisationQuery(limit=1),  # the countries come whole
        m.UTILISATION_REPLY,
        m.UtilisationReply,
        ALLOCATION_QUERIES,
    )
    for c in usage.countries:
        units = {"published": c.published_units, "held": c.held_units, "booked": c.booked_units}
        rows.append(
            SnapshotRow(at=now, kind="utilisation", key=c.country, values_json=json.dumps(units))
        )

    def write() -> None:
        with unit_of_work(state.engine) as session:
            session.add_all(rows)

    await asyncio.to_thread(write)
    return len(rows)


async def keep_taking(state: State) -> None:
    """Every SNAPSHOT_S until cancelled; a service that does not answer skips one snapshot."""
    while True:
        try:
            await take(state)
        except Problem as exc:
            log.warning("no snapshot this time: %s", exc.detail)
        except Exception:
            log.exception("snapshot failed")
        await asyncio.sleep(SNAPSHOT_S)


def series(state: State, kind: Kind, since: datetime | None, limit: int) -> list[HistoryPoint]:
    """The newest `limit` points of `kind` since `since`, oldest first."""
    with read_only(state.engine) as session:
        stmt = select(SnapshotRow).where(col(SnapshotRow.kind) == kind)
        if since is not None:
            stmt = stmt.where(col(SnapshotRow.at) >= since)
        found = session.scalars(
            stmt.order_by(col(SnapshotRow.at).desc(), col(SnapshotRow.id)).limit(limit)
        ).all()
    return [
        HistoryPoint(
            at=r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC),
            key=r.key,
            values={k: Decimal(str(v)) for k, v in json.loads(r.values_json).items()},
        )
        for r in reversed(found)
    ]
