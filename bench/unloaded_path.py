"""`python -m bench.unloaded_path`: where an unloaded application's submit → terms time goes.

The embedded platform on Apache Kafka, traced to a real OTLP endpoint (loket_testing.otlp, in
this process). Applications go one at a time; for each, the spans of its trace give the
segments of the path: the gateway before the workflow starts, the start itself, then for each
service asked (eligibility, allocation, vouchers, charter) the way there (the worker's send
until the service receives), the service's own work, the way back (its commit until the
worker's bridge has the answer) and the worker's turnaround to the next send; last, the wait
until the regular activity that announces the terms. Workflow-side spans carry workflow time,
not wall time, so only the activity's, the services' and the bridge's spans are used.
Tracing costs time itself (bench.tracing: about a fifth unloaded): the shares are what this
measures, not the absolute figures. Writes bench/results/unloaded_path.json with the medians.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from loket_infra.identities import ActingAs, running_provider
from loket_infra.stack import EmbeddedStack, StackConfig
from loket_testing.otlp import OtlpReceiver, Span

from bench.applications import ENDS, accept, publish_facilities, submit, undertaking
from bench.report import publish
from bench.stages import Stages

OUT = Path(__file__).parent / "results" / "unloaded_path.json"
APPLICATIONS = int(os.environ.get("BENCH_PATH_N", "15"))
WARMUP = 3
SERVICES = ("eligibility", "allocation", "vouchers", "charter")  # in the order asked
SEND = "RunActivity:send_commands"
SUBMIT = "POST /v1/applications"  # the gateway's server span
STEPS = ("receive", "process")


def _first(spans: list[Span], service: str | None, name: str) -> Span:
    for s in spans:
        if s.name == name and service in (None, s.service):
            return s
    seen = sorted({(s.service, s.name) for s in spans})
    raise LookupError(f"no span {name!r} of {service} in the trace: {seen}")


def segments(trace: list[Span], submitted_ns: int, terms_ns: int) -> dict[str, float]:
    """The path of one application, in ms, from its trace (sorted by start)."""
    ms = 1e-6
    post = _first(trace, None, SUBMIT)
    start = _first(trace, None, "StartWorkflow:ApplicationV3")
    sends = [s for s in trace if s.name == SEND]
    out = {
        "gateway_before_start": (start.start_ns - post.start_ns) * ms,
        "start_workflow": start.duration_ms,
        "until_first_send": (sends[0].start_ns - start.end_ns) * ms,
    }
    for k, svc in enumerate(SERVICES):
        received = _first(trace, f"loket-{svc}", f"loket.{svc}.commands.v1 receive")
        work = max(
            (s for s in trace if s.name == f"loket.{svc}.commands.v1 process"),
            key=lambda s: s.duration_ms,
        )
        answered = _first(trace, "loket-workflows", f"loket.{svc}.events.v1 process")
        out[f"{svc}.to_service"] = (received.start_ns - sends[k].start_ns) * ms
        out[f"{svc}.in_service"] = work.duration_ms
        out[f"{svc}.back"] = (answered.start_ns - work.end_ns) * ms
        out[f"{svc}.turnaround"] = (sends[k + 1].start_ns - sends[k].end_ns) * ms
    out["announce"] = (terms_ns - sends[len(SERVICES)].start_ns) * ms
    out["total"] = (terms_ns - submitted_ns) * ms
    return out


async def run(stack: EmbeddedStack, otlp: OtlpReceiver) -> list[dict[str, float]]:
    await publish_facilities(stack)
    orgs = [undertaking(i) for i in range(APPLICATIONS + WARMUP)]
    await asyncio.to_thread(lambda: [stack.identity.applicant(org) for org in orgs])
    stages = Stages(stack)
    await stages.start()
    marks: list[tuple[int, int]] = []
    try:
        async with httpx.AsyncClient(
            base_url=stack.gateway_url, timeout=60, auth=ActingAs(stack.identity)
        ) as http:
            for i in range(APPLICATIONS + WARMUP):
                t0 = time.time_ns()
                app_id = await submit(http, i)
                stage, _ = await stages.reached(app_id, "awaiting_acceptance", *ENDS)
                assert stage == "awaiting_acceptance", (app_id, stage)
                if i >= WARMUP:
                    marks.append((t0, time.time_ns()))
                await accept(http, app_id)
                await stages.reached(app_id, "voucher_issued", *ENDS)
    finally:
        await stages.stop()
    return [segments(await _trace_of(otlp, t0, t1), t0, t1) for t0, t1 in marks]


async def _trace_of(otlp: OtlpReceiver, t0: int, t1: int) -> list[Span]:
    """The trace whose root is the submit made at t0, up to t1; the SDKs export every 5 s."""

    def found() -> list[Span] | None:
        spans = otlp.spans()
        roots = [s for s in spans if s.name == SUBMIT and s.parent_id == "" and s.start_ns >= t0]
        if not roots:
            return None
        root = min(roots, key=lambda s: s.start_ns)
        trace = sorted(
            (s for s in spans if s.trace_id == root.trace_id and s.start_ns <= t1),
            key=lambda s: s.start_ns,
        )
        names = {s.name for s in trace}
        needed = {f"loket.{svc}.commands.v1 {step}" for svc in SERVICES for step in STEPS}
        sent = sum(s.name == SEND for s in trace) > len(SERVICES)
        return trace if sent and needed <= names else None  # each process exports on its own

    return await asyncio.to_thread(otlp.wait_for, "the application's trace", found, 30)


def main() -> None:
    load_before = os.getloadavg()[0]  # the machine before this run, not after it
    with (
        tempfile.TemporaryDirectory(prefix="loket-path-") as tmp,
        running_provider(Path(tmp) / "idp") as identity,
        OtlpReceiver() as otlp,
    ):
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint}
        config = StackConfig(
            data_dir=Path(tmp) / "apache", kafka="apache", identity=identity, env=env
        )
        with EmbeddedStack(config) as stack:
            paths = asyncio.run(run(stack, otlp))
    medians: dict[str, Any] = {
        key: round(statistics.median(p[key] for p in paths), 2) for key in paths[0]
    }
    report = {
        "benchmark": "where an unloaded application's submit → terms time goes (traced)",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_before": load_before},
        "kafka": "apache",
        "applications": len(paths),
        "median_ms": medians,
    }
    publish(OUT, report)


if __name__ == "__main__":
    main()
