"""The console's panels on money and capacity: budget, aid, flows and utilisation, from the
services' own answers to the API's questions (budget, register and utilisation replies)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go
from loket_contracts import messages as m
from loket_contracts.topics import ALLOCATION_QUERIES
from sqlmodel import col

from loket_gateway import history, service_queries
from loket_gateway.console.panels import Cell, Panel, Table, listings
from loket_gateway.listings import ApplicationRow
from loket_gateway.state import State


async def budget(state: State) -> Panel:
    replies = [
        await service_queries.ask(
            state, m.BUDGET_QUERY, m.BudgetQuery(call_id=c), m.BUDGET_REPLY, m.BudgetReply
        )
        for c in await asyncio.to_thread(state.call_ids)
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
    history_table, over_time = await _over_time(state, "budget", "granted", "Granted (EUR)")
    return Panel("budget", "Budget", [table, history_table], [plot, over_time])


async def _over_time(
    state: State, kind: history.Kind, measure: str, title: str
) -> tuple[Table, go.Figure]:
    """The snapshots of `kind` (GET /v1/history/{kind}): a table and `measure` as lines."""
    points = await asyncio.to_thread(history.series, state, kind, None, 2000)
    names = sorted({k for p in points for k in p.values})
    table = Table(
        f"{kind}_history",
        f"{kind.capitalize()} at each snapshot (every {history.SNAPSHOT_S:g} s)",
        ["at", "key", *names],
        [
            [p.at.isoformat(timespec="seconds"), p.key, *(p.values.get(n, 0) for n in names)]
            for p in points
        ],
    )
    keys = sorted({p.key for p in points})
    figure = go.Figure(
        [
            go.Scatter(
                name=key,
                mode="lines+markers",
                x=[p.at.isoformat() for p in points if p.key == key],
                y=[float(p.values.get(measure, 0)) for p in points if p.key == key],
            )
            for key in keys
        ],
        layout={"title": f"{title} over time"},
    )
    return table, figure


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
    ids = [g.application_id for g in grants]
    country: dict[str, str] = {}
    for chunk in range(0, len(ids), 500):  # only the applications that got aid
        wanted = col(ApplicationRow.application_id).in_(ids[chunk : chunk + 500])
        found = await asyncio.to_thread(listings, state, wanted)
        country |= {r.application_id: r.applicant_country for r in found}
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
    history_table, over_time = await _over_time(state, "utilisation", "booked", "Booked units")
    return Panel(
        "utilisation", "Utilisation", [per_facility, per_country, history_table], [plot, over_time]
    )
