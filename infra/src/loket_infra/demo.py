"""`loket demo`: start the embedded platform, run the scenario through HTTP and Kafka, check it."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from loket_contracts.topics import FACILITY_CAPACITY
from rich.console import Console
from temporalio.client import Client

from loket_infra import demo_summary
from loket_infra.demo_actors import POLL_S, VIA_HTTP, DemoError, checked, follow
from loket_infra.demo_summary import Outcome, report
from loket_infra.identities import ActingAs
from loket_infra.kafka_tools import publish_capacity, wait_caught_up
from loket_infra.platform import Platform
from loket_infra.scenario import (
    BATCH_CALL,
    BATCH_CASES,
    CASES,
    batch_call_body,
    facility_events,
)
from loket_infra.stack import EmbeddedStack, StackConfig

# The real durations are 14 days, 12 months and 60 days; the demo shows each expiring.
DEMO_ACCEPTANCE_WINDOW_S = 20
DEMO_VOUCHER_VALIDITY_S = 30
DEMO_ACCESS_REPORT_S = 40
DEMO_UI_PORT, DEMO_GATEWAY_PORT = 18233, 18080  # with --stay: fixed, to open in a browser


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
            checked(
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
        call = checked(await http.post("/v1/calls", json=batch_call_body(datetime.now(UTC)))).json()
        console.print(
            f"batch call {call['call_id']} opened: cut-off {call['closes_at'][11:19]} UTC, "
            f"{len(BATCH_CASES)} applications will wait for its allocation round"
        )
        cases = [*CASES, *BATCH_CASES]
        outcomes = list(await asyncio.gather(*(follow(http, case, stack) for case in cases)))
        solved = checked(await http.get(f"/v1/calls/{BATCH_CALL}/round")).json()
        batch_budget = checked(await http.get(f"/v1/calls/{BATCH_CALL}/budget")).json()
        # What a programme manager sees: the call's budget and the state-aid registers.
        budget = checked(await http.get("/v1/calls/LOKET-2026-01/budget")).json()
        transparency = checked(await http.get("/v1/registers/gber_transparency")).json()
        de_minimis = checked(await http.get("/v1/registers/de_minimis")).json()
        usage = checked(await http.get("/v1/utilisation")).json()
    demo_summary.programme(console, solved, (budget, batch_budget), usage)
    console.print(
        f"de minimis register: {len(de_minimis['rows'])} grants; GBER Art. 9 "
        f"transparency list (awards over EUR 100,000): {len(transparency['rows'])}"
    )
    return outcomes


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


def _wait_for_interrupt() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
