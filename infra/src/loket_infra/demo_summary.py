"""What the demo prints once the scenario has run: the outcome table and why, the batch
round, the budgets and the utilisation, as a programme manager reads them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from loket_infra.scenario import Case


@dataclass
class Outcome:
    case: Case
    application_id: str
    status: dict[str, Any]
    documents: dict[str, str]


def programme(
    console: Console,
    solved: dict[str, Any],
    budgets: tuple[dict[str, Any], ...],
    usage: dict[str, Any],
) -> None:
    """The batch round, the calls' budgets, and utilisation by facility, by country and
    across borders."""
    console.print(_round_line(solved))
    for budget in budgets:
        console.print(_budget_table(budget))
    console.print(_facilities_table(usage))
    table = Table(title="Utilisation by facility country (booked / published units)")
    for col in ("country", "published", "held", "booked", "utilisation"):
        table.add_column(col, justify="right")
    for c in usage["countries"]:
        table.add_row(
            c["country"],
            str(c["published_units"]),
            str(c["held_units"]),
            str(c["booked_units"]),
            f"{Decimal(c['utilisation']):.1%}",
        )
    console.print(table)
    flows = Table(title="Cross-border flows: applicant country → facility country")
    for col in ("from", "to", "bookings", "units", "market value EUR"):
        flows.add_column(col, justify="right")
    for f in usage["flows"]:
        flows.add_row(
            f["applicant_country"],
            f["facility_country"],
            str(f["bookings"]),
            str(f["units"]),
            f"{Decimal(f['market_value_eur']):,.0f}",
        )
    console.print(flows)


def _round_line(solved: dict[str, Any]) -> str:
    if solved["state"] != "solved":
        return f"batch call {solved['call_id']}: its round is {solved['state']}"
    countries = ", ".join(
        f"{c} {solved['served_by_country'].get(c, 0)}/{n}"
        for c, n in solved["requested_by_country"].items()
    )
    return (
        f"batch round of {solved['call_id']}: served {solved['served']} of "
        f"{solved['served'] + solved['unserved']} (objective {solved['objective']:g}, LP bound "
        f"{solved['lp_bound']:g}, gap {solved['gap']:.1%}, {solved['solve_seconds']:.2f} s); "
        f"served/asked by country: {countries}"
    )


def _table(outcomes: list[Outcome]) -> tuple[Table, int]:
    """One row per application, within 100 columns; reasons follow in `_reasons`."""
    table = Table(title="Loket demo: applications", show_lines=False)
    for col, justify in (
        ("application", "left"),
        ("applicant (country): case", "left"),
        ("stage", "left"),
        ("aid", "left"),
        ("voucher / co-pay EUR", "right"),
        ("used", "right"),
        ("sites", "left"),
    ):
        table.add_column(col, overflow="fold", justify=justify)  # type: ignore[arg-type]
    mismatches = 0
    for o in outcomes:
        s = o.status
        aid = s.get("aid") or {}
        passed = {h["stage"] for h in s.get("history", [])}
        ok = (
            s["stage"] == o.case.final
            and (o.case.expect in passed or o.case.expect == o.case.final)
            and (o.case.instrument is None or aid.get("instrument") == o.case.instrument)
        )
        mismatches += not ok
        money = instrument = used = ""
        if s.get("delivery"):
            d = s["delivery"]
            used = f"{d['units_delivered']}/{d['units_booked']}"
        if aid and s.get("voucher_id"):
            money = f"{Decimal(aid['voucher_eur']):,.0f} / {Decimal(aid['co_payment_eur']):,.0f}"
            instrument = f"{aid['instrument'].replace('_', ' ')} {Decimal(aid['intensity']):.0%}"
        stage = f"[green]{s['stage']}[/]" if ok else f"[red]{s['stage']} (not {o.case.final})[/]"
        table.add_row(
            o.application_id[:12],
            f"{o.case.applicant['name']} ({o.case.applicant['country']}): {o.case.label}",
            stage,
            instrument,
            money,
            used,
            ", ".join(sorted({a["country"] for a in s.get("allocation", [])})),
        )
    return table, mismatches


def _reasons(outcomes: list[Outcome], console: Console) -> None:
    """Why the applications that got nothing got nothing, one line each."""
    for o in outcomes:
        if not o.status.get("voucher_id") and o.status.get("reasons"):
            console.print(
                f"[bold]{o.application_id[:12]}[/] {o.status['stage']}: "
                + "; ".join(o.status["reasons"][:2]),
                overflow="fold",
            )


def _facilities_table(usage: dict[str, Any]) -> Table:
    table = Table(title="Utilisation per facility (booked / published units)")
    for col, justify in (("facility", "left"), ("country", "left"), ("published", "right"),
                         ("booked", "right"), ("utilisation", "right")):  # fmt: skip
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for f in usage["facilities"]:
        table.add_row(
            f["name"],
            f["country"],
            str(f["published_units"]),
            str(f["booked_units"]),
            f"{Decimal(f['utilisation']):.1%}",
        )
    return table


def _budget_table(budget: dict[str, Any]) -> Table:
    table = Table(title=f"Call {budget['call_id']} budget (scheme {budget['scheme_version']})")
    for col in ("priority area", "total EUR", "reserved EUR", "granted EUR", "available EUR"):
        table.add_column(col, justify="right")
    for a in budget["areas"]:
        table.add_row(
            a["priority_area"],
            *(
                f"{Decimal(a[k]):,.0f}"
                for k in ("total_eur", "reserved_eur", "granted_eur", "available_eur")
            ),
        )
    return table


def report(outcomes: list[Outcome], console: Console, t0: float) -> int:
    """The outcome table and the figures; 0 if every outcome is the scenario's."""
    table, mismatches = _table(outcomes)
    console.print(table)
    _reasons(outcomes, console)
    issued = [o for o in outcomes if o.status.get("voucher_id")]
    bundles = [o for o in issued if len({a["country"] for a in o.status["allocation"]}) > 1]
    if bundles:
        o = bundles[0]
        acceptance = o.status["acceptance"]
        console.print(
            f"two-site agreement of {o.case.applicant['name']} "
            f"({o.status['allocation'][0]['site']} + {o.status['allocation'][1]['site']}"
            f", {acceptance['language']}, accepted by {acceptance['decided_by']} as "
            f"{acceptance['actor']['name']}): SHA-256 {acceptance['terms_sha256'][:16]}…"
        )
    total = sum(Decimal(o.status["aid"]["voucher_eur"]) for o in issued)
    used = sum(Decimal(o.status["delivery"]["redeemed_eur"]) for o in issued)
    for o in issued:
        d = o.status["delivery"]
        if o.case.after in ("partial", "unused", "cancel"):
            console.print(
                f"voucher {o.status['voucher_id']} of {o.case.applicant['name']} "
                f"({o.case.after}): {d['units_delivered']} of {d['units_booked']} unit(s) "
                f"delivered; {d['closed_reason']}"
            )
    for o in outcomes:
        if o.case.action == "withdraw-then-accept":
            console.print(
                f"re-allocation: {o.case.applicant['name']} lost its slot to a "
                f"withdrawal and was re-booked at "
                f"{o.status['allocation'][0]['site']}; stage {o.status['stage']}"
            )
    console.print(
        f"{len(outcomes)} applications, {len(issued)} vouchers worth EUR {total:,.2f} of "
        f"which EUR {used:,.2f} used; "
        f"{mismatches} outcome(s) differ from the scenario; "
        f"{time.monotonic() - t0:.1f}s in all"
    )
    return 0 if mismatches == 0 else 1
