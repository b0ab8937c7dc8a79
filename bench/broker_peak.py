"""`python -m bench.broker_peak`: what the broker's JIT compiler costs and saves.

Apache Kafka as Loket runs it (C1 only, `brokers.JVM_FLAGS`) against the JVM's default tiered
compilation (C1, then C2 for hot code), each on a fresh broker. Kafka's own ProducerPerformance
sends ROUNDS rounds of RECORDS records of 1 KiB (acks=all, 3 partitions, as fast as it can),
and each round reads the broker's CPU per record. The first rounds are what a broker that just
started pays, C2 compiling while it serves; the last are what a warm broker pays under
sustained load. Writes bench/results/broker_peak.json.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from loket_infra import brokers
from loket_infra.kafka_tools import create_topics
from loket_infra.processes import free_port, port_open, wait_until

from bench.idle import cpu_seconds
from bench.report import publish

OUT = Path(__file__).parent / "results" / "broker_peak.json"
RECORDS = int(os.environ.get("BENCH_PEAK_RECORDS", "300000"))
ROUNDS = int(os.environ.get("BENCH_PEAK_ROUNDS", "4"))
TIERED = tuple(f for f in brokers.JVM_FLAGS if not f.startswith("-XX:TieredStopAtLevel"))
MODES = {"c1_only": brokers.JVM_FLAGS, "tiered": TIERED}
RATE = re.compile(r"records sent, ([0-9.]+) records/sec.*?([0-9.]+) ms 50th")


def produce(bootstrap: str) -> dict[str, float]:
    """One round of ProducerPerformance; its JVM is tiered in both modes (the client is not
    what is compared)."""
    out = subprocess.run(
        [
            brokers.java(),
            "-cp",
            brokers.apache_kafka_classpath(),
            "org.apache.kafka.tools.ProducerPerformance",
            *("--topic", "bench.peak", "--num-records", str(RECORDS), "--record-size", "1024"),
            *("--throughput", "-1", "--producer-props", f"bootstrap.servers={bootstrap}"),
            *("acks=all", "linger.ms=0"),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout
    found = RATE.search(out.strip().splitlines()[-1])
    assert found, out
    return {"records_per_s": round(float(found[1])), "latency_p50_ms": float(found[2])}


def on_broker(flags: tuple[str, ...]) -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="loket-bench-peak-"))
    port = free_port()
    broker = brokers.apache_kafka(port, free_port(), tmp, tmp / "kafka.log", jvm_flags=flags)
    broker.start()
    try:
        wait_until("kafka", lambda: port_open(port), 120, broker.alive, broker.log)
        bootstrap = f"127.0.0.1:{port}"
        asyncio.run(create_topics(bootstrap, ["bench.peak"]))
        assert broker.popen is not None
        rounds = []
        for _ in range(ROUNDS):
            before = cpu_seconds(broker.popen.pid)
            sent = produce(bootstrap)
            spent = cpu_seconds(broker.popen.pid) - before
            rounds.append({"broker_cpu_us_per_record": round(spent * 1e6 / RECORDS, 1), **sent})
        return rounds
    finally:
        broker.stop()


def main() -> None:
    load_before = os.getloadavg()[0]  # the machine before this run, not after it
    results = {mode: on_broker(flags) for mode, flags in MODES.items()}
    report = {
        "benchmark": "broker JIT: C1 only (Loket) against tiered C1+C2, fresh broker",
        "machine": {"cpus": os.cpu_count(), "load_before": load_before},
        "records_per_round": RECORDS,
        "record_bytes": 1024,
        "rounds": results,
        "broker_cpu_s_all_rounds": {
            mode: round(sum(r["broker_cpu_us_per_record"] for r in rounds) * RECORDS / 1e6, 2)
            for mode, rounds in results.items()
        },
    }
    publish(OUT, report)


if __name__ == "__main__":
    main()
