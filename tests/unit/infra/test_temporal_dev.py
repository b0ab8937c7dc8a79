"""The dev server reads one partition per task queue only where no task can sit in another."""

from __future__ import annotations

from pathlib import Path

from loket_infra.temporal_dev import DATABASE, dev_server_argv


def partitions(data_dir: Path) -> dict[str, int]:
    argv = dev_server_argv("temporal", data_dir, 7233, "loket", None)
    values = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--dynamic-config-value"]
    found = dict(value.split("=", 1) for value in values)
    return {
        "read": int(found["matching.numTaskqueueReadPartitions"]),
        "write": int(found["matching.numTaskqueueWritePartitions"]),
    }


def test_a_new_database_reads_and_writes_one_partition_on_every_start(tmp_path: Path) -> None:
    assert partitions(tmp_path) == {"read": 1, "write": 1}
    (tmp_path / DATABASE).write_bytes(b"")  # the server has run on this folder
    assert partitions(tmp_path) == {"read": 1, "write": 1}


def test_a_database_from_before_keeps_reading_temporals_four(tmp_path: Path) -> None:
    """Tasks queued in partitions 1-3 before the change still reach a worker."""
    (tmp_path / DATABASE).write_bytes(b"")
    assert partitions(tmp_path) == {"read": 4, "write": 1}
    assert partitions(tmp_path) == {"read": 4, "write": 1}
