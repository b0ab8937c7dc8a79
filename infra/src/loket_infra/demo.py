"""`loket demo`: start the embedded platform, run the scenario through HTTP and Kafka, check it."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from loket_contracts.application import TERMINAL_STAGES
from loket_contracts.capacity import SlotWithdrawn
from loket_contracts.topics import FACILITY_CAPACITY
from rich.console import Console
from rich.table import Table

from loket_infra.kafka_tools import publish_capacity, wait_caught_up
from loket_infra.scenario import CASES, Case, facility_events, request_body
from loket_infra.stack import EmbeddedStack, StackConfig

DEMO_ACCEPTANCE_WINDOW_S = 20  # the real default is 14 days; the demo shows an expiry too
FOLLOW_DEADLINE_S = 240
POLL_S = 0.5
TERMINAL = {str(s) for s in TERMINAL_STAGES}


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


async def follow(
    http: httpx.AsyncClient, case: Case, manager_token: str, bootstrap: str
) -> Outcome:
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
            "manager": "Programme manager (demo)",
            "reason": "accounts checked"
            if case.review == "approve"
            else "rescue aid still outstanding",
        }
        _ok(
            await http.post(
                f"/v1/applications/{app_id}/review",
                json=decision,
                headers={"Authorization": f"Bearer {manager_token}"},
            )
        )
        status = await _poll_until(http, app_id, TERMINAL | {"awaiting_acceptance"}, deadline)
    documents: dict[str, str] = {}
    if status["stage"] == "awaiting_acceptance" and case.action == "withdraw-then-accept":
        # The facility cancels the slot (maintenance) before the applicant answers.
        first = _ok(await http.get(f"/v1/applications/{app_id}/terms")).json()["sha256"]
        line = status["allocation"][0]
        await publish_capacity(
            bootstrap,
            [
                SlotWithdrawn(
                    facility_id=line["facility_id"],
                    sequence=1000,
                    slot_id=line["slot_id"],
                    reason="unplanned maintenance",
                )
            ],
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
    status = await _poll_until(http, app_id, TERMINAL, deadline)
    return Outcome(case, app_id, status, documents)


async def drive(stack: EmbeddedStack, console: Console) -> list[Outcome]:
    events = facility_events()
    via_http = [e for e in events if e.facility_id in {"nl-eindhoven-battery"}]
    via_kafka = [e for e in events if e not in via_http]
    await publish_capacity(stack.kafka_bootstrap, via_kafka)
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as http:
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
        await wait_caught_up(stack.kafka_bootstrap, "loket-allocation", FACILITY_CAPACITY)
        facilities = {e.facility_id for e in events}
        countries = {e.country for e in events if hasattr(e, "country")}
        console.print(
            f"{len(facilities)} facilities in {len(countries)} countries published "
            f"{len(events)} capacity events; submitting {len(CASES)} applications…"
        )
        token = stack.config.manager_token
        outcomes = list(
            await asyncio.gather(
                *(follow(http, case, token, stack.kafka_bootstrap) for case in CASES)
            )
        )
        # What a programme manager sees: the call's budget and the state-aid registers.
        budget = _ok(await http.get("/v1/calls/LOKET-2026-01/budget")).json()
        transparency = _ok(await http.get("/v1/registers/gber_transparency")).json()
        de_minimis = _ok(await http.get("/v1/registers/de_minimis")).json()
        usage = _ok(await http.get("/v1/utilisation")).json()
    console.print(_budget_table(budget))
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
    flows = ", ".join(
        f"{f['applicant_country']}→{f['facility_country']} {f['units']}" for f in usage["flows"]
    )
    console.print(f"cross-border bookings (applicant country→facility country, units): {flows}")
    console.print(
        f"de minimis register: {len(de_minimis['rows'])} grants; GBER Art. 9 "
        f"transparency list (awards over EUR 100,000): {len(transparency['rows'])}"
    )
    return outcomes


def _table(outcomes: list[Outcome]) -> tuple[Table, int]:
    table = Table(title="Loket demo: applications", show_lines=False)
    for col in (
        "application",
        "applicant / case",
        "stage",
        "expected",
        "reason",
        "aid",
        "voucher EUR",
        "co-pay EUR",
        "sites (countries)",
    ):
        table.add_column(col, overflow="fold")
    mismatches = 0
    for o in outcomes:
        s = o.status
        aid = s.get("aid") or {}
        ok = s["stage"] == o.case.expect and (
            o.case.instrument is None or aid.get("instrument") == o.case.instrument
        )
        mismatches += not ok
        voucher = copay = instrument = ""
        if aid and s["stage"] == "voucher_issued":
            voucher = f"{Decimal(aid['voucher_eur']):,.0f}"
            copay = f"{Decimal(aid['co_payment_eur']):,.0f}"
            instrument = f"{aid['instrument']} {Decimal(aid['intensity']):.0%}"
        sites = ", ".join(
            sorted({f"{a['site']} ({a['country']})" for a in s.get("allocation", [])})
        )
        table.add_row(
            o.application_id,
            f"{o.case.applicant['name']}: {o.case.label}",
            f"[green]{s['stage']}[/]" if ok else f"[red]{s['stage']}[/]",
            o.case.expect,
            "; ".join(s.get("reasons", [])),
            instrument,
            voucher,
            copay,
            sites,
        )
    return table, mismatches


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


def run_demo(data_dir: Path) -> int:
    console = Console(width=200)
    t0 = time.monotonic()
    config = StackConfig(data_dir=data_dir, acceptance_window_s=DEMO_ACCEPTANCE_WINDOW_S)
    with EmbeddedStack(config) as stack:
        console.print(
            f"platform up in {time.monotonic() - t0:.1f}s (Kafka {config.kafka} at "
            f"{stack.kafka_bootstrap}, Temporal {stack.temporal_address}, gateway "
            f"{stack.gateway_url}); logs in {stack.log_dir}"
        )
        outcomes = asyncio.run(drive(stack, console))
    table, mismatches = _table(outcomes)
    console.print(table)
    issued = [o for o in outcomes if o.status["stage"] == "voucher_issued"]
    bundles = [
        o
        for o in issued
        if len({a["country"] for a in o.status["allocation"]}) > 1 and o.documents.get("pdf")
    ]
    if bundles:
        o = bundles[0]
        acceptance = o.status["acceptance"]
        console.print(
            f"two-site agreement of {o.case.applicant['name']} "
            f"({o.status['allocation'][0]['site']} + {o.status['allocation'][1]['site']}"
            f", {acceptance['language']}, accepted by {acceptance['decided_by']}): "
            f"{o.documents['pdf']}"
        )
    total = sum(Decimal(o.status["aid"]["voucher_eur"]) for o in issued)
    for o in outcomes:
        if o.case.action == "withdraw-then-accept":
            console.print(
                f"re-allocation: {o.case.applicant['name']} lost its slot to a "
                f"withdrawal and was re-booked at "
                f"{o.status['allocation'][0]['site']}; stage {o.status['stage']}"
            )
    console.print(
        'Temporal UI (namespace loket): filter with LoketStage="voucher_issued" AND '
        'LoketApplicantCountry="AT"; also LoketPriorityArea, LoketCall, '
        "LoketFacilityCountries"
    )
    console.print(
        f"{len(outcomes)} applications, {len(issued)} vouchers worth EUR {total:,.2f}; "
        f"{mismatches} outcome(s) differ from the scenario; "
        f"{time.monotonic() - t0:.1f}s in all"
    )
    return 0 if mismatches == 0 else 1
