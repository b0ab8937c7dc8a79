"""The Temporal dev server's command line in the embedded stack: one process, one history
shard, one matching host, its state in `<data>/temporal.db`."""

from __future__ import annotations

import subprocess
from pathlib import Path

from loket_contracts.application import SEARCH_ATTRIBUTES

from loket_infra.processes import free_port, port_open

TASK_QUEUE_READERS = ("transfer", "timer", "visibility")  # Temporal's, per history shard
DATABASE = "temporal.db"
# Written beside a database created with one partition per task queue.
ONE_PARTITION = "temporal.one-partition"
TEMPORAL_DEFAULT_PARTITIONS = 4


def read_partitions(data_dir: Path) -> int:
    """How many partitions of each task queue the server reads.

    Partitions spread a task queue over matching hosts; on one host each is only another
    long poll to forward and its metadata to sync (the idle server spends about a quarter
    less CPU with one: README, "Temporal reads one partition per task queue"). Every server
    writes to one. One that reads one too strands tasks queued in the others, so a database
    that began with Temporal's four keeps reading them, and its backlog there drains; a new
    database reads one from the start."""
    if not (data_dir / DATABASE).exists():
        (data_dir / ONE_PARTITION).touch()
    return 1 if (data_dir / ONE_PARTITION).exists() else TEMPORAL_DEFAULT_PARTITIONS


def dev_server_argv(
    binary: str, data_dir: Path, port: int, namespace: str, ui_port: int | None
) -> list[str]:
    argv = [
        binary,
        "server",
        "start-dev",
        *("--ip", "127.0.0.1", "--port", str(port)),
        *("--http-port", str(free_port()), "--metrics-port", str(free_port())),
        *("--db-filename", str(data_dir / DATABASE)),
        *("--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"),
        *("--namespace", namespace, "--log-level", "warn"),
    ]
    # The dev server has one history shard, and each shard reads its task queues at most
    # 20 times a second (the default): once the limiter's burst is spent, every workflow
    # task waits for the next read, ~25 ms, and a one-activity workflow takes 100 ms
    # instead of 20 (bench.per_application). A cluster spreads the same reads over many shards.
    dynamic = [f"history.{queue}ProcessorMaxPollRPS=1000" for queue in TASK_QUEUE_READERS]
    dynamic += [
        f"matching.numTaskqueueReadPartitions={read_partitions(data_dir)}",
        "matching.numTaskqueueWritePartitions=1",
    ]
    for value in dynamic:
        argv += ["--dynamic-config-value", value]
    # The managers' filters in the Temporal UI (the gateway registers them too, for a
    # Temporal server it did not start).
    for name, kind in SEARCH_ATTRIBUTES.items():
        argv += ["--search-attribute", f"{name}={kind}"]
    if ui_port is not None:
        argv += ["--ui-ip", "127.0.0.1", "--ui-port", str(ui_port)]
    else:
        argv += ["--headless"]
    return argv


def namespace_ready(binary: str, port: int, namespace: str) -> bool:
    """The server answers and knows the namespace (created at start, a moment after the port
    opens)."""
    if not port_open(port):
        return False
    result = subprocess.run(
        [
            binary,
            "operator",
            "namespace",
            "describe",
            "--address",
            f"127.0.0.1:{port}",
            "-n",
            namespace,
        ],
        capture_output=True,
        timeout=10,
    )
    return result.returncode == 0
