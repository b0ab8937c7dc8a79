"""Idle platform benchmark: CPU of the whole embedded platform doing nothing.

`python -m bench.idle` starts the embedded stack (Apache Kafka, then tansu), lets it settle,
and reads every process's CPU time (its own and its children's, from /proc) over a window in
which nothing is asked of it. The result is the fraction of one core the platform uses idle,
and which process spends it. Writes bench/results/idle.json.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from loket_infra.identities import IdentityProvider, running_provider
from loket_infra.stack import EmbeddedStack, StackConfig

from bench.report import publish

SETTLE_S = float(os.environ.get("BENCH_SETTLE_S", "20"))
WINDOW_S = float(os.environ.get("BENCH_WINDOW_S", "60"))
OUT = Path(__file__).parent / "results" / "idle.json"
KAFKAS = os.environ.get("BENCH_KAFKAS", "apache,tansu").split(",")
TICK = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = task / "children"
        if children.exists():
            found += [int(c) for c in children.read_text().split()]
    return found


def cpu_seconds(pid: int) -> float:
    """User + system time of `pid` and every living descendant."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            todo += _children(current)
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    return total


def measure(stack: EmbeddedStack) -> dict[str, float]:
    pids = {n: p.popen.pid for n, p in stack.processes.items() if p.popen is not None}
    time.sleep(SETTLE_S)
    before = {n: cpu_seconds(pid) for n, pid in pids.items()}
    started = time.monotonic()
    time.sleep(WINDOW_S)
    elapsed = time.monotonic() - started
    return {n: round((cpu_seconds(pid) - before[n]) / elapsed, 4) for n, pid in pids.items()}


def run(kafka: str, identity: IdentityProvider) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="loket-idle-") as tmp:
        config = StackConfig(data_dir=Path(tmp), kafka=kafka, identity=identity)
        with EmbeddedStack(config) as stack:
            per_process = measure(stack)
    return {
        "kafka": kafka,
        "idle_core_fraction": round(sum(per_process.values()), 4),
        "per_process_core_fraction": dict(sorted(per_process.items(), key=lambda kv: -kv[1])),
        "window_s": WINDOW_S,
    }


def main() -> None:
    load_before = os.getloadavg()[0]  # the machine before this run, not after it
    with (
        tempfile.TemporaryDirectory(prefix="loket-idle-idp-") as tmp,
        running_provider(Path(tmp)) as identity,
    ):
        results = [run(kafka, identity) for kafka in KAFKAS]
    report = {
        "benchmark": "idle platform",
        "what": "fraction of one core used by the whole embedded platform (Keycloak, which "
        "the platform shares with tests, excluded) with no work, after settling",
        "machine": {"cpus": os.cpu_count(), "load_before": load_before},
        "results": results,
    }
    publish(OUT, report)


if __name__ == "__main__":
    main()
