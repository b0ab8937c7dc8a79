"""The console's panels: each is tables (exported as CSV) and plots, made from the very answers
the JSON API gives (the listings read model, the services' budget, register and utilisation
replies), so every number on screen is one a reader can check against the API."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go
from loket_contracts import messages as m
from loket_contracts.application import TERMINAL_STAGES, Stage
from loket_contracts.topics import ALLOCATION_QUERIES
from loket_messaging.db import unit_of_work
from sqlalchemy import select

from loket_gateway import service_queries
from loket_gateway.listings import ApplicationRow
from loket_gateway.state import State

NOT_GRANTED = (Stage.INELIGIBLE, Stage.UNALLOCATABLE, Stage.REFUSED, Stage.FAILED)
# Waiting for a person or a deadline, not for Loket: never "stuck".
WAITING_FOR_PEOPLE = {Stage.MANUAL_REVIEW, Stage.AWAITING_ACCEPTANCE, Stage.VOUCHER_ISSUED}
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


def _listings(state: State) -> list[ApplicationRow]:
    with unit_of_work(state.engine) as session:
        return list(session.scalars(select(ApplicationRow)).all())


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def funnel(state: State) -> Panel:
    rows = await asyncio.to_thread(_listings, state)
    by_stage = Counter((r.call_id, r.stage) for r in rows)
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
        line.strip()
        for r in rows
        if r.stage in NOT_GRANTED
        for line in r.reasons.splitlines()
        if line.strip()
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


async def budget(state: State) -> Panel:
    replies = [
        await service_queries.ask(
            state, m.BUDGET_QUERY, m.BudgetQuery(call_id=c), m.BUDGET_REPLY, m.BudgetReply
        )
        for c in sorted(state.calls)
    ]
    rows: list[list[Cell]] = [
        [r.call_id, a.priority_area, a.total_eur, a.reserved_eur, a.granted_eur, a.available_eur]
        for r in replies
        for a in r.areas
    ]
    table = Table(
        "budget",
        "Budget per call and priority area (EUR)",
        ["call", "priority_area", "total", "reserved", "granted", "available"],
        rows,
    )
    labels = [f"{r[0]} · {r[1]}" for r in rows]
    plot = go.Figure(
        [
            go.Bar(name=kind, x=labels, y=[float(r[i]) for r in rows])
            for kind, i in (("granted", 4), ("reserved", 3), ("available", 5))
        ],
        layout={"title": "Reserved, granted and available", "barmode": "stack"},
    )
    return Panel(
        "budget",
        "Budget",
        [table],
        [plot],
        "As it stands now; the services keep no history of the budget yet.",
    )


async def _all_aid(state: State) -> list[m.RegisterRow]:
    rows: list[m.RegisterRow] = []
    offset: int | None = 0
    while offset is not None:
        page = await service_queries.ask(
            state,
            m.REGISTER_QUERY,
            m.RegisterQuery(register_id="aid", offset=offset, limit=1000),
            m.REGISTER_REPLY,
            m.RegisterReply,
        )
        rows += page.rows
        offset = page.next_offset
    return rows


def instrument_label(row: m.RegisterRow) -> str:
    if row.instrument == "gber_art28":
        return f"GBER Art. 28 at {row.intensity * 100:.0f} %"
    return {"de_minimis": "de minimis", "no_aid": "no aid"}[row.instrument]


async def aid(state: State) -> Panel:
    grants = await _all_aid(state)
    country = {
        r.application_id: r.applicant_country for r in await asyncio.to_thread(_listings, state)
    }
    totals: dict[tuple[str, str], list[Any]] = {}
    for g in grants:
        key = (instrument_label(g), country.get(g.application_id, "?"))
        t = totals.setdefault(key, [0, Decimal(0)])
        t[0] += 1
        t[1] += g.aid_eur
    rows: list[list[Cell]] = [[i, c, n, eur] for (i, c), (n, eur) in sorted(totals.items())]
    table = Table(
        "aid",
        "Aid granted by instrument and applicant country",
        ["instrument", "country", "vouchers", "aid_eur"],
        rows,
    )
    instruments = sorted({str(r[0]) for r in rows})
    countries = sorted({str(r[1]) for r in rows})
    plot = go.Figure(
        [
            go.Bar(
                name=i,
                x=countries,
                y=[float(totals.get((i, c), [0, 0])[1]) for c in countries],
            )
            for i in instruments
        ],
        layout={"title": "Aid (EUR) by applicant country", "barmode": "stack"},
    )
    return Panel("aid", "State aid", [table], [plot])


async def _utilisation(state: State) -> m.UtilisationReply:
    return await service_queries.ask(
        state,
        m.UTILISATION_QUERY,
        m.UtilisationQuery(),
        m.UTILISATION_REPLY,
        m.UtilisationReply,
        ALLOCATION_QUERIES,
    )


async def flows(state: State) -> Panel:
    report = await _utilisation(state)
    table = Table(
        "flows",
        "Transnational flows: applicant country → facility country (confirmed and completed "
        "bookings)",
        ["applicant_country", "facility_country", "bookings", "units", "market_value_eur"],
        [
            [f.applicant_country, f.facility_country, f.bookings, f.units, f.market_value_eur]
            for f in report.flows
        ],
    )
    origins = sorted({f.applicant_country for f in report.flows})
    targets = sorted({f.facility_country for f in report.flows})
    matrix = go.Figure(
        go.Heatmap(
            x=targets,
            y=origins,
            z=[
                [
                    sum(
                        f.units
                        for f in report.flows
                        if (f.applicant_country, f.facility_country) == (o, t)
                    )
                    for t in targets
                ]
                for o in origins
            ],
            colorscale="Blues",
            hovertemplate="%{y} → %{x}: %{z} units<extra></extra>",
        ),
        layout={"title": "Units booked: applicant (rows) → facility (columns) country"},
    )
    nodes = [f"{c} (applicants)" for c in origins] + [f"{c} (facilities)" for c in targets]
    sankey = go.Figure(
        go.Sankey(
            node={"label": nodes},
            link={
                "source": [origins.index(f.applicant_country) for f in report.flows],
                "target": [len(origins) + targets.index(f.facility_country) for f in report.flows],
                "value": [float(f.market_value_eur) or f.units for f in report.flows],
            },
        ),
        layout={"title": "Flows in euros (market value of the booked units)"},
    )
    return Panel("flows", "Transnational flows", [table], [matrix, sankey])


async def utilisation(state: State) -> Panel:
    report = await _utilisation(state)
    columns = ["key", "name", "country", "published", "held", "booked", "utilisation"]

    def rows(items: list[m.Utilisation]) -> list[list[Cell]]:
        return [
            [
                u.key,
                u.name,
                u.country,
                u.published_units,
                u.held_units,
                u.booked_units,
                u.utilisation,
            ]
            for u in items
        ]

    per_facility = Table("utilisation_facilities", "Per facility", columns, rows(report.facilities))
    per_country = Table("utilisation_countries", "Per country", columns, rows(report.countries))
    plot = go.Figure(
        [
            go.Bar(name=kind, x=[u.key for u in report.countries], y=values)
            for kind, values in (
                ("booked", [u.booked_units for u in report.countries]),
                ("held", [u.held_units for u in report.countries]),
                (
                    "free",
                    [u.published_units - u.booked_units - u.held_units for u in report.countries],
                ),
            )
        ],
        layout={"title": "Units per facility country", "barmode": "stack"},
    )
    return Panel(
        "utilisation",
        "Utilisation",
        [per_facility, per_country],
        [plot],
        "As it stands now (booked / published units); no history is kept yet.",
    )


async def work_queue(state: State) -> Panel:
    rows = await asyncio.to_thread(_listings, state)
    now = datetime.now(UTC)
    reviews, overdue, stuck = [], [], []
    for r in sorted(rows, key=lambda r: _aware(r.stage_at)):
        since = _aware(r.stage_at)
        if r.stage == Stage.MANUAL_REVIEW:
            reviews.append(r)
        elif r.stage == Stage.REPORT_DUE and now - since > timedelta(seconds=state.access_report_s):
            overdue.append(r)
        elif (
            r.stage not in TERMINAL_STAGES
            and r.stage not in WAITING_FOR_PEOPLE
            and r.stage != Stage.REPORT_DUE
            and now - since > timedelta(seconds=state.stuck_notice_s)
        ):
            stuck.append(r)
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
                    _aware(r.stage_at).isoformat(timespec="seconds"),
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
                lambda r: _aware(r.stage_at) + escalate,
            ),
            table(
                "overdue_reports",
                "Access reports overdue",
                overdue,
                "was_due",
                lambda r: _aware(r.stage_at) + timedelta(seconds=state.access_report_s),
            ),
            table(
                "stuck",
                "Stuck beyond their expected time",
                stuck,
                "expected_by",
                lambda r: _aware(r.stage_at) + timedelta(seconds=state.stuck_notice_s),
            ),
        ],
        [],
    )


PANELS: dict[str, Callable[[State], Awaitable[Panel]]] = {
    "queue": work_queue,
    "funnel": funnel,
    "budget": budget,
    "aid": aid,
    "flows": flows,
    "utilisation": utilisation,
}
