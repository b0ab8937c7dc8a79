"""aiokafka settings tuned for low per-hop latency on a local broker."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaProducer

# The 500 ms default lets an idle partition fetch wait up to half a second per hop.
FETCH_MAX_WAIT_MS = 20
# Short sessions: the broker holds a group join for up to half the session timeout, and
# FastStream's subscribers join one after another.
SESSION_TIMEOUT_MS = 4000
HEARTBEAT_INTERVAL_MS = 700


def consumer_options() -> dict[str, Any]:
    return {
        "fetch_max_wait_ms": FETCH_MAX_WAIT_MS,
        "session_timeout_ms": SESSION_TIMEOUT_MS,
        "heartbeat_interval_ms": HEARTBEAT_INTERVAL_MS,
        "auto_offset_reset": "earliest",
    }


def make_producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    # linger 0: publish now, we never batch on purpose. acks=all: an event is durable once sent.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        linger_ms=0,
        request_timeout_ms=15000,
    )
