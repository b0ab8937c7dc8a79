"""aiokafka settings tuned for low per-hop latency on a local broker."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from faststream.security import SASLScram512

from loket_messaging.prefetch import hold_prefetch

# How long the broker may park a fetch that finds nothing. Apache Kafka answers a parked fetch
# as soon as a record arrives, so a long wait costs no latency and lets an idle consumer rest
# (at 20 ms each consumer asks 50 times a second). tansu does not wake parked fetches, only
# re-polls within the wait: its lane (the demo) sets LOKET_KAFKA_FETCH_MAX_WAIT_MS=20.
# At rest a consumer sends a fetch every wait and a heartbeat every session/3: these requests
# are most of the broker's idle work (bench/idle.py).
FETCH_MAX_WAIT_MS = 5000
# Apache Kafka's default group.min.session.timeout.ms. tansu's lane goes shorter (it holds a
# group join for half the session timeout) through LOKET_KAFKA_SESSION_TIMEOUT_MS.
DEFAULT_SESSION_TIMEOUT_MS = 6000
MAX_POLL_INTERVAL_MS = 15 * 60 * 1000


MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class KafkaLogin:
    """A Kafka principal's SASL/SCRAM credentials (Apache Kafka with ACLs; the memory-only
    tansu lane runs without)."""

    username: str
    password: str

    @classmethod
    def from_env(cls) -> KafkaLogin | None:
        user = os.environ.get("LOKET_KAFKA_USER")
        return cls(user, os.environ.get("LOKET_KAFKA_PASSWORD", "")) if user else None

    def client_kwargs(self) -> dict[str, Any]:
        return {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": MECHANISM,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
        }

    def faststream(self) -> SASLScram512:
        return SASLScram512(username=self.username, password=self.password, use_ssl=False)


@dataclass(frozen=True)
class KafkaAccess:
    """Where the broker is and who we are to it."""

    bootstrap: str
    login: KafkaLogin | None = None

    @classmethod
    def from_env(cls, bootstrap: str) -> KafkaAccess:
        return cls(bootstrap, KafkaLogin.from_env())

    def client_kwargs(self) -> dict[str, Any]:
        return {
            "bootstrap_servers": self.bootstrap,
            **(self.login.client_kwargs() if self.login else {}),
        }


def access(target: KafkaAccess | str) -> KafkaAccess:
    return target if isinstance(target, KafkaAccess) else KafkaAccess(target)


def consumer_options() -> dict[str, Any]:
    session = int(os.environ.get("LOKET_KAFKA_SESSION_TIMEOUT_MS", DEFAULT_SESSION_TIMEOUT_MS))
    fetch_wait = int(os.environ.get("LOKET_KAFKA_FETCH_MAX_WAIT_MS", FETCH_MAX_WAIT_MS))
    hold_prefetch(fetch_wait)
    return {
        "fetch_max_wait_ms": fetch_wait,
        # aiokafka's fetcher also wakes on this timer (200 ms by default) although every
        # event it waits for (a fetch answered, records consumed, a seek, a rebalance) wakes
        # it anyway: a timer as long as the fetch wait only rests an idle consumer.
        "consumer_timeout_ms": max(200, fetch_wait),
        "session_timeout_ms": session,
        # A record may be retried in place for LOKET_TRANSIENT_RETRY_S (300 s) while the
        # database is away: the group must not take the partition away meanwhile.
        "max_poll_interval_ms": MAX_POLL_INTERVAL_MS,
        # Kafka's advice: at most a third of the session, so two may be lost before it ends.
        "heartbeat_interval_ms": max(100, session // 3),
        "auto_offset_reset": "earliest",
    }


def make_producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    # linger 0: publish now, we never batch on purpose. acks=all: an event is durable once sent.
    return AIOKafkaProducer(
        **KafkaAccess.from_env(bootstrap).client_kwargs(),
        client_id=client_id,
        acks="all",
        linger_ms=0,
        request_timeout_ms=15000,
    )
