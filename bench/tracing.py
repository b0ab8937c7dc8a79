"""`python -m bench.tracing`: what OpenTelemetry costs on the end-to-end path.

The per-application run of bench/per_application.py (unloaded one by one, then a burst), on
Apache Kafka, twice in one go: telemetry off, then on, exporting traces, metrics and logs over
OTLP/HTTP to a real endpoint (loket_testing.otlp, in this process: its CPU is not counted).
Writes bench/results/tracing.json.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loket_infra.identities import running_provider
from loket_infra.stack import EmbeddedStack, StackConfig
from loket_testing.otlp import OtlpReceiver

from bench.applications import publish_facilities
from bench.per_application import N, loket
from bench.report import publish

OUT = Path(__file__).parent / "results" / "tracing.json"
# The SDK's default batching (5 s for spans and logs, 60 s for metrics), as in production.


async def run(stack: EmbeddedStack) -> dict[str, Any]:
    await publish_facilities(stack, 10 * N)
    pids = {n: p.popen.pid for n, p in stack.processes.items() if p.popen is not None}
    return await loket(stack, pids)


def main() -> None:
    load_before = os.getloadavg()[0]  # the machine before this run, not after it
    results: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="loket-tracing-") as tmp,
        running_provider(Path(tmp) / "idp") as identity,
        OtlpReceiver() as otlp,
    ):
        for mode, env in (("off", {}), ("on", {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint})):
            config = StackConfig(
                data_dir=Path(tmp) / mode, kafka="apache", identity=identity, env=env
            )
            with EmbeddedStack(config) as stack:
                results[mode] = asyncio.run(run(stack))
        spans = len(otlp.spans())
    off, on = results["off"], results["on"]
    report = {
        "benchmark": "OpenTelemetry overhead on the end-to-end path (Apache Kafka)",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_before": load_before},
        "burst": N,
        "overhead": {
            "cpu_per_application_ratio": round(
                on["cpu_ms_per_application"] / off["cpu_ms_per_application"], 3
            ),
            "unloaded_p50_ratio": round(on["unloaded_p50_s"] / off["unloaded_p50_s"], 3),
            "burst_p95_ratio": round(on["burst_p95_s"] / off["burst_p95_s"], 3),
        },
        "spans_received": spans,
        "off": off,
        "on": on,
    }
    publish(OUT, report)


if __name__ == "__main__":
    main()
