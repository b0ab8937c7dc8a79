"""The console's panels: each is tables (exported as CSV) and plots, made from the very answers
the JSON API gives, so every number on screen is one a reader can check against the API. Here:
the panels of the listings read model (work queue, funnel); money and capacity in market.py."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go
from loket_contracts.application import TERMINAL_STAGES, Stage
from loket_messaging.clock import as_utc
from loket_messaging.db import read_only
from sqlalchemy import func, select
from sqlmodel import col

from loket_gateway.listings import ApplicationRow
from loket_gateway.state import State

NOT_GRANTED = (Stage.INELIGIBLE, Stage.UNALLOCATABLE, Stage.REFUSED, Stage.FAILED)
# Waiting for a person or a deadline (a batch call's cut-off), not for Loket: never "stuck".
WAITING_FOR_PEOPLE = {
    Stage.MANUAL_REVIEW,
    Stage.AWAITING_ACCEPTANCE,
    Stage.VOUCHER_ISSUED,
    Stage.AWAITING_ROUND,
}
Cell = str | int | Decimal


@dataclass
class Table:
    name: str  # also the CSV's file name
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    links: dict[int, str] = field(default_factory=dict)  # row index → where its action is


@dataclass
class Panel:
    key: str
    title: str
    tables: list[Table]
    plots: list[go.Figure]
    note: str = ""


def listings(state: State, *where: Any) -> list[ApplicationRow]:
    """The read model's rows (those matching `where`)."""
    with read_only(state.engine) as session:
        return list(session.scalars(select(ApplicationRow).where(*where)).all())


def _counts(state: State) -> Counter[tuple[str, str]]:
    """Applications per (call, stage), counted by the database."""
    with read_only(state.engine) as session:
        found = session.execute(
            select(col(ApplicationRow.call_id), col(ApplicationRow.stage), func.count()).group_by(
                col(ApplicationRow.call_id), col(ApplicationRow.stage)
            )
        ).all()
    return Counter({(call, stage): n for call, stage, n in found})


async def funnel(state: State) -> Panel:
    by_stage = await asyncio.to_thread(_counts, state)
    refused = await asyncio.to_thread(
        listings, state, col(ApplicationRow.stage).in_([s.value for s in NOT_GRANTED])
    )
    stages = [s.value for s in Stage if any(stage == s for _, stage in by_stage)]
    calls = sorted({call for call, _ in by_stage})
    table = Table(
        "funnel",
        "Applications by stage and call",
        ["stage", *calls, "all"],
        [
            [s, *(by_stage[(c, s)] for c in calls), sum(by_stage[(c, s)] for c in calls)]
            for s in stages
        ],
    )
    reasons = Counter(
        line.strip() for r in refused for line in r.reasons.splitlines() if line.strip()
    )
    ranked = Table(
        "refusal_reasons",
        "Reasons for refusal, most frequent first",
        ["reason", "applications"],
        [[reason, n] for reason, n in reasons.most_common(25)],
    )
    plot = go.Figure(
        [go.Bar(name=c, x=stages, y=[by_stage[(c, s)] for s in stages]) for c in calls],
        layout={"title": "Applications by stage", "barmode": "stack"},
    )
    return Panel("funnel", "Funnel", [table, ranked], [plot])


@dataclass(frozen=True)
class WorkQueue:
    reviews: list[ApplicationRow]
    overdue_reports: list[ApplicationRow]
    stuck: list[ApplicationRow]


def sort_into_queue(
    rows: list[ApplicationRow], now: datetime, access_report_s: float, stuck_notice_s: float
) -> WorkQueue:
    """What needs a person now, oldest first: every review; reports past their due time;
    applications waiting on Loket (not on a person) longer than they should."""
    queue = WorkQueue([], [], [])
    for r in sorted(rows, key=lambda r: as_utc(r.stage_at)):
        waited = now - as_utc(r.stage_at)
        if r.stage == Stage.MANUAL_REVIEW:
            queue.reviews.append(r)
        elif r.stage == Stage.REPORT_DUE:
            if waited > timedelta(seconds=access_report_s):
                queue.overdue_reports.append(r)
        elif (
            r.stage not in TERMINAL_STAGES
            and r.stage not in WAITING_FOR_PEOPLE
            and waited > timedelta(seconds=stuck_notice_s)
        ):
            queue.stuck.append(r)
    return queue


async def work_queue(state: State) -> Panel:
    open_ = [s.value for s in Stage if s not in TERMINAL_STAGES]  # the finished need nobody
    rows = await asyncio.to_thread(listings, state, col(ApplicationRow.stage).in_(open_))
    queue = sort_into_queue(rows, datetime.now(UTC), state.access_report_s, state.stuck_notice_s)
    reviews, overdue, stuck = queue.reviews, queue.overdue_reports, queue.stuck
    escalate = timedelta(seconds=state.review_escalation_s)

    def table(
        name: str,
        title: str,
        found: list[ApplicationRow],
        when: str,
        at: Callable[[ApplicationRow], datetime],
    ) -> Table:
        return Table(
            name,
            title,
            ["application", "applicant", "country", "stage", "since", when],
            [
                [
                    r.application_id,
                    r.applicant_name,
                    r.applicant_country,
                    r.stage,
                    as_utc(r.stage_at).isoformat(timespec="seconds"),
                    at(r).isoformat(timespec="seconds"),
                ]
                for r in found
            ],
            {i: f"/console/applications/{r.application_id}" for i, r in enumerate(found)},
        )

    return Panel(
        "queue",
        "Work queue",
        [
            table(
                "reviews",
                "Reviews waiting",
                reviews,
                "escalates_at",
                lambda r: as_utc(r.stage_at) + escalate,
            ),
            table(
                "overdue_reports",
                "Access reports overdue",
                overdue,
                "was_due",
                lambda r: as_utc(r.stage_at) + timedelta(seconds=state.access_report_s),
            ),
            table(
                "stuck",
                "Stuck beyond their expected time",
                stuck,
                "expected_by",
                lambda r: as_utc(r.stage_at) + timedelta(seconds=state.stuck_notice_s),
            ),
        ],
        [],
    )


def panels() -> dict[str, Callable[[State], Awaitable[Panel]]]:
    """Every panel, in the order of the console's navigation."""
    from loket_gateway.console import calls, market

    return {
        "queue": work_queue,
        "funnel": funnel,
        "budget": market.budget,
        "aid": market.aid,
        "flows": market.flows,
        "utilisation": market.utilisation,
        "calls": calls.calls,
    }
