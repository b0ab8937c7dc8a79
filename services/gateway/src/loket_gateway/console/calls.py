"""The calls panel: every call with its mode, dates, version and budget (GET /v1/calls), and
each batch call's round (GET /v1/calls/{call}/round): served, LP bound, gap, and per
applicant country how many asked and how many were served."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import plotly.graph_objects as go
from loket_contracts.calls import Call, RoundView
from loket_messaging.db import read_only

from loket_gateway import calls as register
from loket_gateway import rounds
from loket_gateway.console.panels import Cell, Panel, Table
from loket_gateway.state import State


def _calls(state: State) -> list[Call]:
    with read_only(state.engine) as session:
        return register.all_calls(session)


def _when(call: Call) -> str:
    return f"{call.closes_at:%Y-%m-%d %H:%M}" if call.closes_at else "open-ended"


async def calls(state: State) -> Panel:
    every = await asyncio.to_thread(_calls, state)
    assert state.client is not None
    views: list[RoundView] = [
        await rounds.view(state.client, c) for c in every if c.mode == "batch"
    ]
    listed = Table(
        "calls",
        "Calls",
        ["call", "title", "mode", "status", "opens", "closes", "version", "budget_eur"],
        [
            [
                c.call_id,
                c.title,
                c.mode,
                c.status,
                f"{c.opens_at:%Y-%m-%d %H:%M}",
                _when(c),
                c.version,
                sum(c.budgets.values(), Decimal(0)),
            ]
            for c in every
        ],
    )
    round_rows: list[list[Cell]] = [
        [
            v.call_id,
            v.state,
            f"{v.runs_at:%Y-%m-%d %H:%M:%S}" if v.runs_at else "",
            _n(v.served),
            _n(v.unserved),
            _f(v.objective),
            _f(v.lp_bound),
            f"{v.gap:.2%}" if v.gap is not None else "",
            v.status or "",
        ]
        for v in views
    ]
    rounds_table = Table(
        "rounds",
        "Allocation rounds of batch calls",
        ["call", "state", "runs_at", "served", "unserved", "objective", "lp_bound", "gap", "how"],
        round_rows,
    )
    fairness_rows: list[list[Cell]] = [
        [
            v.call_id,
            country,
            asked,
            v.served_by_country.get(country, 0),
            f"{v.served_by_country.get(country, 0) / asked:.0%}",
        ]
        for v in views
        for country, asked in sorted(v.requested_by_country.items())
    ]
    fairness = Table(
        "round_fairness",
        "Who the rounds served, by applicant country",
        ["call", "country", "asked", "served", "served_share"],
        fairness_rows,
    )
    plot = go.Figure(
        [
            go.Bar(
                name=kind,
                x=[f"{r[0]} · {r[1]}" for r in fairness_rows],
                y=[r[i] for r in fairness_rows],
            )
            for kind, i in (("asked", 2), ("served", 3))
        ],
        layout={"title": "Asked and served per applicant country", "barmode": "group"},
    )
    note = (
        "A batch call's applications wait until its cut-off; then one optimal round (HiGHS) "
        "serves as many as the capacity allows. The gap is how far the round is from the LP "
        "bound of the model it solved. When a need had more slots that fit than the model "
        "kept (the round's status says so), that bound covers the kept slots only; the "
        "placement uses them all, so the gap can then be below zero."
    )
    return Panel("calls", "Calls and rounds", [listed, rounds_table, fairness], [plot], note)


def _n(value: int | None) -> Cell:
    return "" if value is None else value


def _f(value: float | None) -> Cell:
    return "" if value is None else f"{value:g}"
