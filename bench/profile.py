"""Where each Loket process spends its CPU in a burst: py-spy profiles, summed up.

`python -m bench.profile` starts the embedded platform (Apache Kafka), publishes the
per-application bench's facilities, follows a few applications to warm up, then attaches py-spy
(`--gil`: only the thread holding the GIL, so a thread waiting on a lock or a socket is not
counted as busy) to every Python process and follows BENCH_N applications at once (100) from
submission to voucher, as `bench.per_application` does.

For each process it writes to bench/results/profile.json the CPU-ms per application in the burst
(from /proc, as the per-application bench) and, of its busy samples: the share by the package
whose code was running (the innermost frame: `temporalio` for the SDK's Python and its Rust core
behind it, `sqlalchemy`, `aiokafka`, a `loket_*` package, the standard library by module), the
share of samples that pass through each package (inclusive), and the functions with the most
samples of their own. `BENCH_PROFILE_KEEP=dir` keeps py-spy's raw stacks there as well.

A profile slows what it watches (py-spy reads each process's memory 100 times a second), so
its CPU-ms are higher than the per-application bench's; the shares are what it is for.
"""

from __future__ import annotations

import asyncio
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from loket_infra.identities import ActingAs, running_provider
from loket_infra.stack import EmbeddedStack, StackConfig

from bench.applications import follow, publish_facilities, undertaking
from bench.bursts import per_item_ms
from bench.idle import cpu_of
from bench.report import publish
from bench.stages import Stages

N = int(os.environ.get("BENCH_N", "100"))
RATE_HZ = 100
PYTHON_PROCESSES = ("gateway", "workflows", "eligibility", "allocation", "vouchers", "charter")
# A leaf frame in one of these is a thread parked, not work (py-spy --gil leaves most out).
PARKED = ("Condition.wait", "EpollSelector.select", "Event.wait", "_wait_for_tstate_lock")
OUT = Path(__file__).parent / "results" / "profile.json"
TOP = 15


def package(frame: str) -> str:
    """`name (path/to/file.py:12)` → the package that file belongs to."""
    where = frame.rpartition(" (")[2].rstrip(")").rpartition(":")[0]
    head = where.split("/", 1)[0]
    return head.removesuffix(".py") or "?"  # `threading.py`: a module of the standard library


def summarise(raw: Path) -> dict[str, Any]:
    """py-spy's raw output (`frame;frame;…;leaf count` per line) → shares of busy samples."""
    own: collections.Counter[str] = collections.Counter()
    functions: collections.Counter[str] = collections.Counter()
    through: collections.Counter[str] = collections.Counter()
    busy = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f for f in stack.split(";") if f]
        if not frames or not count.isdigit() or frames[-1].startswith(PARKED):
            continue
        n = int(count)
        busy += n
        own[package(frames[-1])] += n
        functions[frames[-1]] += n
        for name in {package(f) for f in frames}:
            through[name] += n

    def shares(counter: collections.Counter[str]) -> dict[str, float]:
        return {k: round(100 * v / busy, 1) for k, v in counter.most_common(TOP)} if busy else {}

    return {
        "busy_samples": busy,
        "own_share_pct_by_package": shares(own),
        "inclusive_share_pct_by_package": shares(through),
        "top_functions_own_share_pct": shares(functions),
    }


async def burst(stack: EmbeddedStack, pids: dict[str, int], raw_dir: Path) -> dict[str, float]:
    acting = ActingAs(stack.identity)
    first = 5000  # organisations of their own (the warm-up's are 4990-4994)
    orgs = [undertaking(i) for i in (*range(first - 10, first - 5), *range(first, first + N))]
    await asyncio.to_thread(lambda: [stack.identity.applicant(org) for org in orgs])
    stages = Stages(stack)
    await stages.start()
    spies: list[subprocess.Popen[bytes]] = []
    try:
        async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60, auth=acting) as http:
            for i in range(5):
                await follow(http, stages, first - 10 + i)
            await attach(pids, raw_dir, spies)
            before = cpu_of(pids)
            await asyncio.gather(*(follow(http, stages, first + i) for i in range(N)))
            after = cpu_of(pids)
    finally:
        for p in spies:
            p.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        for p in spies:
            await asyncio.to_thread(p.wait, 120)
        await stages.stop()
    return per_item_ms(before, after, N)


async def attach(pids: dict[str, int], raw_dir: Path, spies: list[subprocess.Popen[bytes]]) -> None:
    """py-spy on every Python process (into `spies`, which the caller stops), each sampling
    once this returns."""
    beside_python = Path(sys.executable).parent / "py-spy"
    spy = str(beside_python) if beside_python.exists() else shutil.which("py-spy")
    assert spy, "py-spy is not installed (`make setup` installs it)"
    for name in PYTHON_PROCESSES:
        record = ["record", "--gil", "-r", str(RATE_HZ), "-f", "raw"]
        with (raw_dir / f"{name}.log").open("wb") as log:
            spies.append(
                subprocess.Popen(  # noqa: ASYNC220 (children for the whole burst)
                    [spy, *record, "-o", str(raw_dir / f"{name}.txt"), "-p", str(pids[name])],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    # Each says "Sampling process …" once it has attached: wait for that, not for a while.
    deadline = time.monotonic() + 60
    logs = [raw_dir / f"{name}.log" for name in PYTHON_PROCESSES]
    while not all(_sampling(p, log) for p, log in zip(spies, logs, strict=True)):
        assert time.monotonic() < deadline, "py-spy did not attach within 60 s"
        await asyncio.sleep(0.1)


def _sampling(spy: subprocess.Popen[bytes], log: Path) -> bool:
    said = log.read_text(errors="replace")
    assert spy.poll() is None, f"py-spy exited with {spy.returncode}: {said[-500:]}"
    return "Sampling process" in said


def main() -> None:
    load_before = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="loket-profile-") as tmp,
        running_provider(Path(tmp) / "idp") as identity,
    ):
        raw_dir = Path(os.environ.get("BENCH_PROFILE_KEEP") or Path(tmp) / "raw")
        raw_dir.mkdir(parents=True, exist_ok=True)
        config = StackConfig(data_dir=Path(tmp) / "apache", kafka="apache", identity=identity)
        with EmbeddedStack(config) as stack:
            pids = {n: p.popen.pid for n, p in stack.processes.items() if p.popen is not None}
            asyncio.run(publish_facilities(stack, 10 * N))
            cpu = asyncio.run(burst(stack, pids, raw_dir))
        processes = {
            name: {"cpu_ms_per_application": cpu[name], **summarise(raw_dir / f"{name}.txt")}
            for name in sorted(PYTHON_PROCESSES, key=lambda n: -cpu[n])
        }
    report = {
        "benchmark": "py-spy profile of each Python process in a burst (Apache Kafka)",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_before": load_before},
        "burst": N,
        "sampling": f"py-spy --gil at {RATE_HZ} Hz",
        "cpu_ms_per_application_all_processes": cpu,
        "processes": processes,
    }
    publish(OUT, report)


if __name__ == "__main__":
    main()
