"""Real infrastructure for integration tests: a Kafka-protocol broker on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from loket_infra import brokers
from loket_infra.processes import READY_DEADLINE_S, Process, free_port, port_open, wait_until


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Apache Kafka in KRaft mode (or tansu with LOKET_KAFKA=tansu), stopped after the
    session."""
    port = free_port()
    data = tmp_path_factory.mktemp("kafka")
    if os.environ.get("LOKET_KAFKA", "apache") == "apache":
        broker: Process = brokers.apache_kafka(port, free_port(), data, data / "kafka.log")
    else:
        broker = brokers.tansu(port, data / "kafka.log")
    broker.start()
    try:
        wait_until(
            "Kafka broker", lambda: port_open(port), READY_DEADLINE_S, broker.alive, broker.log
        )
        yield f"127.0.0.1:{port}"
    finally:
        broker.stop()
