"""End-to-end benchmark against the SPEC's targets, raw Temporal measured in the same run.

`python -m bench.e2e_throughput` starts the embedded platform (tansu, Temporal dev server with
its SQLite file, the four services, worker, bridge, gateway; SQLite databases), then:

- raw Temporal: a trivial workflow with one no-op activity on the same server, its worker in
  this process with the SDK's default settings (as the application worker has): the p50
  latency of one at a time, and the throughput of N started at once;
- Loket, unloaded: applications one at a time, submit → terms ready (status polled);
- Loket, loaded: N applications submitted at once over HTTP, each accepted as soon as its
  terms are ready (an automatic acceptance), followed through the gateway's listing until the
  voucher is issued: applications/s and the p95 of submit → terms ready.

Writes bench/results/e2e_throughput.json with the ratios next to the targets:
throughput ≥ 1/3 of raw Temporal; p95 submit → terms-ready ≤ 10 × the trivial workflow's p50.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from loket_contracts.capacity import FacilityProfile, Offering, SlotPublished
from loket_contracts.topics import FACILITY_CAPACITY
from loket_infra.identities import ActingAs
from loket_infra.kafka_tools import publish_capacity, wait_caught_up
from loket_infra.stack import EmbeddedStack, StackConfig
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

N = int(os.environ.get("BENCH_N", "100"))
SEQUENTIAL = 10
RAW_SEQUENTIAL = 30
POLL_S = 0.05
OUT = Path(__file__).parent / "results" / "e2e_throughput.json"
T0 = datetime(2027, 5, 3, 8, tzinfo=UTC)
SERVICE = "bench.beamtime"


@activity.defn
async def noop(n: int) -> int:
    return n


@workflow.defn
class Trivial:
    @workflow.run
    async def run(self, n: int) -> int:
        return int(
            await workflow.execute_activity(noop, n, start_to_close_timeout=timedelta(seconds=10))
        )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def raw_temporal(address: str, namespace: str) -> dict[str, float]:
    client = await Client.connect(address, namespace=namespace)
    queue = f"bench-trivial-{uuid.uuid4().hex[:6]}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[Trivial],
        activities=[noop],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        latencies = []
        for i in range(RAW_SEQUENTIAL + 5):
            t = time.perf_counter()
            await client.execute_workflow(Trivial.run, i, id=f"{queue}-seq-{i}", task_queue=queue)
            if i >= 5:  # warm-up
                latencies.append(time.perf_counter() - t)
        t = time.perf_counter()
        await asyncio.gather(
            *(
                client.execute_workflow(Trivial.run, i, id=f"{queue}-par-{i}", task_queue=queue)
                for i in range(N)
            )
        )
        elapsed = time.perf_counter() - t
    return {
        "p50_latency_s": statistics.median(latencies),
        "workflows_per_s": N / elapsed,
        "concurrent_elapsed_s": elapsed,
    }


RUN = uuid.uuid4().hex[:8]


def undertaking(i: int) -> str:
    return f"BENCH-{RUN}-{i}"


def application(i: int) -> dict[str, Any]:
    return {
        "applicant": {
            "undertaking_id": undertaking(i),
            "name": f"Bench Start-up {i}",
            "country": "AT",
            "workplace_country": "AT",
            "registered_on": "2024-02-01",
            "staff_awu": 9,
            "turnover_eur": "900000",
            "balance_sheet_eur": "700000",
            "nace_code": "C26.1",
        },
        "priority_area": "advanced-materials",
        "needs": [
            {
                "service_type": SERVICE,
                "units": 1,
                "earliest_start": T0.isoformat(),
                "latest_end": (T0 + timedelta(days=10)).isoformat(),
            }
        ],
    }


async def publish_facilities(stack: EmbeddedStack) -> None:
    events: list[Any] = []
    for country in ("FR", "DE", "SE"):
        fid = f"bench-{country.lower()}"
        events += [
            FacilityProfile(
                facility_id=fid,
                sequence=1,
                name=f"Bench {country}",
                site=f"Site {country}",
                country=country,
                kind="RI",
                offerings=[
                    Offering(
                        offering_id="o1",
                        service_type=SERVICE,
                        unit="shift",
                        market_price_eur=1000,
                        access_modes=["physical"],
                    )
                ],
            ),
            SlotPublished(
                facility_id=fid,
                sequence=2,
                slot_id=f"{fid}-s1",
                offering_id="o1",
                start=T0,
                end=T0 + timedelta(days=3),
                capacity_units=10 * N,
            ),
        ]
    await publish_capacity(stack.facility_access, events, stack.facility_key)
    await wait_caught_up(stack.kafka_admin, "loket-allocation", FACILITY_CAPACITY)


async def submit(http: httpx.AsyncClient, i: int) -> str:
    resp = await http.post("/v1/applications", json=application(i))
    resp.raise_for_status()
    return str(resp.json()["application_id"])


async def accept(http: httpx.AsyncClient, app_id: str) -> None:
    terms = (await http.get(f"/v1/applications/{app_id}/terms")).raise_for_status().json()
    resp = await http.post(
        f"/v1/applications/{app_id}/accept", json={"terms_sha256": terms["sha256"]}
    )
    resp.raise_for_status()


async def unloaded(http: httpx.AsyncClient) -> list[float]:
    """Submit → terms ready, one application at a time (its status polled)."""
    out = []
    for i in range(SEQUENTIAL):
        t = time.perf_counter()
        app_id = await submit(http, i)
        while (await http.get(f"/v1/applications/{app_id}")).json()["stage"] not in (  # noqa: ASYNC110 (polling HTTP: nothing to await)
            "awaiting_acceptance",
            "failed",
            "unallocatable",
            "refused",
        ):
            await asyncio.sleep(0.01)
        out.append(time.perf_counter() - t)
        await accept(http, app_id)
    return out


async def loaded(http: httpx.AsyncClient) -> dict[str, Any]:
    submitted: dict[str, float] = {}
    terms_ready: dict[str, float] = {}
    issued: dict[str, float] = {}
    t0 = time.perf_counter()

    async def one(i: int) -> None:
        app_id = await submit(http, 1000 + i)
        submitted[app_id] = time.perf_counter()

    await asyncio.gather(*(one(i) for i in range(N)))
    accepting: list[asyncio.Task[None]] = []
    deadline = time.monotonic() + 600
    while len(issued) < N:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(issued)} of {N} vouchers issued")
        for stage in ("awaiting_acceptance", "voucher_issued"):
            page = (
                await http.get("/v1/applications", params={"stage": stage, "limit": 500})
            ).json()
            now = time.perf_counter()
            for row in page["items"]:
                app_id = row["application_id"]
                if app_id not in submitted:
                    continue
                if app_id not in terms_ready:
                    terms_ready[app_id] = now
                    accepting.append(asyncio.create_task(accept(http, app_id)))
                if stage == "voucher_issued":
                    issued.setdefault(app_id, now)
        await asyncio.sleep(POLL_S)
    await asyncio.gather(*accepting)
    elapsed = max(issued.values()) - t0
    to_terms = [terms_ready[a] - submitted[a] for a in submitted]
    return {
        "applications": N,
        "elapsed_s": elapsed,
        "applications_per_s": N / elapsed,
        "submit_to_terms_p50_s": statistics.median(to_terms),
        "submit_to_terms_p95_s": pct(to_terms, 0.95),
        "listing_poll_interval_s": POLL_S,
    }


async def run(stack: EmbeddedStack) -> dict[str, Any]:
    await publish_facilities(stack)
    raw = await raw_temporal(stack.temporal_address, stack.namespace)
    # Each request as whoever may make it (the applicant's people, the programme manager);
    # every start-up's person is onboarded (and holds a token) before the clock starts.
    acting = ActingAs(stack.identity)
    orgs = [undertaking(i) for i in (*range(SEQUENTIAL), *range(1000, 1000 + N))]
    await asyncio.to_thread(lambda: [stack.identity.applicant(org) for org in orgs])
    await asyncio.to_thread(stack.identity.role, "manager")
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60, auth=acting) as http:
        alone = await unloaded(http)
        busy = await loaded(http)
    throughput_ratio = busy["applications_per_s"] / raw["workflows_per_s"]
    latency_ratio = busy["submit_to_terms_p95_s"] / raw["p50_latency_s"]
    return {
        "benchmark": "e2e_throughput",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "broker": stack.config.kafka,
        "raw_temporal": raw,
        "loket_unloaded": {
            "submit_to_terms_p50_s": statistics.median(alone),
            "submit_to_terms_max_s": max(alone),
            "applications": SEQUENTIAL,
        },
        "loket_loaded": busy,
        "targets": {
            "throughput_ratio": throughput_ratio,
            "throughput_target": "≥ 1/3 of raw Temporal",
            "throughput_met": throughput_ratio >= 1 / 3,
            "p95_terms_ready_over_raw_p50": latency_ratio,
            "latency_target": "≤ 10",
            "latency_met": latency_ratio <= 10,
        },
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = StackConfig(data_dir=Path(tmp) / "stack")
        with EmbeddedStack(config) as stack:
            data = asyncio.run(run(stack))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
