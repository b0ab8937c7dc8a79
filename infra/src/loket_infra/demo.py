"""`loket demo`: start the embedded platform, run the scenario through HTTP and Kafka, check it."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from loket_contracts.application import TERMINAL_STAGES
from loket_contracts.capacity import Delivery, SlotWithdrawn
from loket_contracts.topics import FACILITY_CAPACITY
from rich.console import Console
from rich.table import Table
from temporalio.client import Client

from loket_infra.identities import ActingAs
from loket_infra.kafka_tools import publish_capacity, wait_caught_up
from loket_infra.platform import Platform
from loket_infra.scenario import (
    BATCH_CALL,
    BATCH_CASES,
    CASES,
    Case,
    batch_call_body,
    facility_events,
    request_body,
)
from loket_infra.stack import EmbeddedStack, StackConfig

# The real durations are 14 days, 12 months and 60 days; the demo shows each expiring.
DEMO_ACCEPTANCE_WINDOW_S = 20
DEMO_VOUCHER_VALIDITY_S = 30
DEMO_ACCESS_REPORT_S = 40
DEMO_UI_PORT, DEMO_GATEWAY_PORT = 18233, 18080  # with --stay: fixed, to open in a browser
FOLLOW_DEADLINE_S = 240
POLL_S = 0.5
TERMINAL = {str(s) for s in TERMINAL_STAGES}


VIA_HTTP = {"nl-eindhoven-battery"}  # publishes through the gateway; the others use Kafka


class DemoError(RuntimeError):
    pass


def _ok(resp: httpx.Response) -> httpx.Response:
    if resp.is_error:
        raise DemoError(
            f"{resp.request.method} {resp.request.url.path} → {resp.status_code}: {resp.text}"
        )
    return resp


@dataclass
class Outcome:
    case: Case
    application_id: str
    status: dict[str, Any]
    documents: dict[str, str]


async def _poll_until(
    http: httpx.AsyncClient, app_id: str, stages: set[str], deadline: float
) -> dict[str, Any]:
    while True:
        resp = _ok(await http.get(f"/v1/applications/{app_id}"))
        status: dict[str, Any] = resp.json()
        if status["stage"] in stages:
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"{app_id} stuck in {status['stage']}")
        await asyncio.sleep(POLL_S)


async def follow(http: httpx.AsyncClient, case: Case, stack: Platform) -> Outcome:
    key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"loket-demo/{case.label}"))
    resp = _ok(
        await http.post(
            "/v1/applications", json=request_body(case), headers={"Idempotency-Key": key}
        )
    )
    app_id = resp.json()["application_id"]
    deadline = time.monotonic() + FOLLOW_DEADLINE_S
    status = await _poll_until(
        http, app_id, TERMINAL | {"awaiting_acceptance", "manual_review"}, deadline
    )
    if status["stage"] == "manual_review" and case.review:
        decision = {
            "approve": case.review == "approve",
            "reason": "accounts checked"
            if case.review == "approve"
            else "rescue aid still outstanding",
        }
        _ok(await http.post(f"/v1/applications/{app_id}/review", json=decision))
        status = await _poll_until(http, app_id, TERMINAL | {"awaiting_acceptance"}, deadline)
    documents: dict[str, str] = {}
    if status["stage"] == "awaiting_acceptance" and case.action == "withdraw-then-accept":
        # The facility cancels the slot (maintenance) before the applicant answers.
        first = _ok(await http.get(f"/v1/applications/{app_id}/terms")).json()["sha256"]
        line = status["allocation"][0]
        await publish_capacity(
            stack.facility_access,
            [
                SlotWithdrawn(
                    facility_id=line["facility_id"],
                    sequence=1000,
                    slot_id=line["slot_id"],
                    reason="unplanned maintenance",
                )
            ],
            stack.facility_key,
        )
        while status["stage"] != "awaiting_acceptance" or status["terms_sha256"] == first:
            await asyncio.sleep(POLL_S)
            status = _ok(await http.get(f"/v1/applications/{app_id}")).json()
            if time.monotonic() > deadline or status["stage"] in TERMINAL:
                break
    if status["stage"] == "awaiting_acceptance" and case.action != "silent":
        terms = _ok(await http.get(f"/v1/applications/{app_id}/terms")).json()
        documents = terms["documents"]
        decision = {
            "terms_sha256": terms["sha256"],
            "decided_by": f"CEO of {case.applicant['name']}",
        }
        if case.action == "decline":
            decision["reason"] = "we found a closer facility"
        action = "decline" if case.action == "decline" else "accept"
        _ok(await http.post(f"/v1/applications/{app_id}/{action}", json=decision))
    status = await _poll_until(http, app_id, TERMINAL | {"voucher_issued"}, deadline)
    if status["stage"] == "voucher_issued":
        status = await use_voucher(http, case, status, stack, deadline)
    return Outcome(case, app_id, status, documents)


_delivery_sequence = itertools.count(10_000)  # per facility strictly increasing: one counter


async def use_voucher(
    http: httpx.AsyncClient,
    case: Case,
    status: dict[str, Any],
    stack: Platform,
    deadline: float,
) -> dict[str, Any]:
    """What facilities and the applicant do with a voucher, as the case says."""
    app_id = status["application_id"]
    lines = status["allocation"]
    if case.after in ("partial", "cancel"):
        deliveries = [(lines[0], 1)]
    elif case.after in ("deliver", "overdue"):
        deliveries = [(line, line["units"]) for line in lines]
    else:
        deliveries = []
    for line, units in deliveries:
        delivery = Delivery(
            facility_id=line["facility_id"],
            sequence=next(_delivery_sequence),
            application_id=app_id,
            slot_id=line["slot_id"],
            units_delivered=units,
            delivered_at=datetime.now(UTC),
        )
        if line["facility_id"] in VIA_HTTP:  # this facility uses the API, the others Kafka
            _ok(
                await http.post(
                    f"/v1/facilities/{line['facility_id']}/deliveries",
                    content=delivery.model_dump_json(),
                    headers={"content-type": "application/json"},
                )
            )
        else:
            await publish_capacity(stack.facility_access, [delivery], stack.facility_key)
    if case.after == "cancel":
        while (status.get("delivery") or {}).get("units_delivered", 0) < 1:
            await asyncio.sleep(POLL_S)
            status = _ok(await http.get(f"/v1/applications/{app_id}")).json()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{app_id}: the delivery was never recorded")
        _ok(
            await http.post(
                f"/v1/applications/{app_id}/cancel",
                json={"reason": "the start-up was sold; access no longer needed"},
            )
        )
    if case.after in ("deliver", "partial"):
        status = await _poll_until(http, app_id, TERMINAL | {"report_due"}, deadline)
        if status["stage"] == "report_due":
            report = {
                "summary": f"{case.applicant['name']}: measurements done, results in our "
                "next product iteration.",
                "results": ["samples characterised"],
                "submitted_by": f"CEO of {case.applicant['name']}",
            }
            _ok(await http.post(f"/v1/applications/{app_id}/report", json=report))
    return await _poll_until(http, app_id, TERMINAL, deadline)


async def drive(stack: Platform, console: Console) -> list[Outcome]:
    events = facility_events()
    via_http = [e for e in events if e.facility_id in VIA_HTTP]
    via_kafka = [e for e in events if e not in via_http]
    await publish_capacity(stack.facility_access, via_kafka, stack.facility_key)
    # Each request is made by whoever may make it: the start-up's people for their
    # applications, facilities for themselves, the programme manager for reviews and reports.
    acting = ActingAs(stack.identity)
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30, auth=acting) as http:
        for body in via_http:
            path = "profile" if type(body).__name__ == "FacilityProfile" else "slots"
            method = http.put if path == "profile" else http.post
            _ok(
                await method(
                    f"/v1/facilities/{body.facility_id}/{path}",
                    content=body.model_dump_json(),
                    headers={"content-type": "application/json"},
                )
            )
        await wait_caught_up(stack.kafka_admin, "loket-allocation", FACILITY_CAPACITY)
        facilities = {e.facility_id for e in events}
        countries = {e.country for e in events if hasattr(e, "country")}
        console.print(
            f"{len(facilities)} facilities in {len(countries)} countries published "
            f"{len(events)} capacity events; submitting {len(CASES) + len(BATCH_CASES)} "
            "applications…"
        )
        # A programme manager opens the batch call; its applications wait for the cut-off.
        call = _ok(await http.post("/v1/calls", json=batch_call_body(datetime.now(UTC)))).json()
        console.print(
            f"batch call {call['call_id']} opened: cut-off {call['closes_at'][11:19]} UTC, "
            f"{len(BATCH_CASES)} applications will wait for its allocation round"
        )
        cases = [*CASES, *BATCH_CASES]
        outcomes = list(await asyncio.gather(*(follow(http, case, stack) for case in cases)))
        solved = _ok(await http.get(f"/v1/calls/{BATCH_CALL}/round")).json()
        batch_budget = _ok(await http.get(f"/v1/calls/{BATCH_CALL}/budget")).json()
        # What a programme manager sees: the call's budget and the state-aid registers.
        budget = _ok(await http.get("/v1/calls/LOKET-2026-01/budget")).json()
        transparency = _ok(await http.get("/v1/registers/gber_transparency")).json()
        de_minimis = _ok(await http.get("/v1/registers/de_minimis")).json()
        usage = _ok(await http.get("/v1/utilisation")).json()
    console.print(_round_line(solved))
    console.print(_budget_table(budget))
    console.print(_budget_table(batch_budget))
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
    console.print(
        f"de minimis register: {len(de_minimis['rows'])} grants; GBER Art. 9 "
        f"transparency list (awards over EUR 100,000): {len(transparency['rows'])}"
    )
    return outcomes


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


async def visible_in_temporal(stack: Platform, outcomes: list[Outcome], console: Console) -> None:
    """What a manager filters in the Temporal UI, asked through the same visibility API: the
    demo's applications by stage and applicant country (search attributes set by the workflow;
    visibility is eventually consistent, hence the wait)."""
    client = await Client.connect(stack.temporal_address, namespace=stack.namespace)
    country = "AT"
    expected = sum(
        1
        for o in outcomes
        if o.status["stage"] == "closed" and o.case.applicant["country"] == country
    )
    query = f'LoketStage="closed" AND LoketApplicantCountry="{country}"'
    deadline = time.monotonic() + 30
    while (found := (await client.count_workflows(query)).count) != expected:
        if time.monotonic() > deadline:
            raise DemoError(f"Temporal lists {found} workflows for {query}, expected {expected}")
        await asyncio.sleep(POLL_S)
    by_stage = {}
    for stage in sorted({o.status["stage"] for o in outcomes}):
        by_stage[stage] = (await client.count_workflows(f'LoketStage="{stage}"')).count
    console.print(
        f"Temporal visibility: {query} → {found} workflow(s); by LoketStage: "
        + ", ".join(f"{k} {v}" for k, v in by_stage.items())
    )


def run_demo(data_dir: Path, stay: bool = False) -> int:
    console = Console(width=100)
    t0 = time.monotonic()
    config = StackConfig(
        data_dir=data_dir,
        # The demo starts fresh and throws its data away: tansu's memory-only log starts
        # fastest. LOKET_KAFKA=apache runs it on the durable broker.
        kafka=os.environ.get("LOKET_KAFKA", "tansu"),
        acceptance_window_s=DEMO_ACCEPTANCE_WINDOW_S,
        voucher_validity_s=DEMO_VOUCHER_VALIDITY_S,
        access_report_s=DEMO_ACCESS_REPORT_S,
        ui=stay,
        temporal_ui_port=DEMO_UI_PORT if stay else 0,
        gateway_port=DEMO_GATEWAY_PORT if stay else 0,
    )
    logging.getLogger().setLevel(logging.WARNING)  # until the log folder exists: problems only
    with EmbeddedStack(config) as stack:
        _logs_to(stack.log_dir / "demo.log")
        console.print(
            f"platform up in {time.monotonic() - t0:.1f}s (Kafka {config.kafka} at "
            f"{stack.kafka_bootstrap}, Temporal {stack.temporal_address}, gateway "
            f"{stack.gateway_url}); logs in {stack.log_dir}"
        )
        outcomes = run_scenario(stack, console)
        if stay:
            ui = f"{stack.temporal_ui}/namespaces/{stack.namespace}/workflows"
            console.print(
                f"The platform stays up: Temporal UI {ui} — filter with "
                'LoketStage="closed" AND LoketApplicantCountry="AT" (also LoketPriorityArea, '
                f"LoketCall, LoketFacilityCountries); listings {stack.gateway_url}"
                "/v1/applications?stage=closed. Ctrl-C stops it."
            )
            _wait_for_interrupt()
    return report(outcomes, console, t0)


def _logs_to(path: Path) -> None:
    """Every library's log lines go to the log folder: the console shows the scenario."""
    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def run_scenario(platform: Platform, console: Console) -> list[Outcome]:
    outcomes = asyncio.run(drive(platform, console))
    asyncio.run(visible_in_temporal(platform, outcomes, console))
    return outcomes


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


def _wait_for_interrupt() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
