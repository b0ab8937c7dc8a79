"""How a facility's planned events leave: over HTTP as its OAuth client, or over Kafka as
signed CloudEvents (the key onboarding handed it; the SASL principal of facility producers)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
from loket_contracts import keys

from loket_client.client import ProblemError
from loket_client.facility import Planned


def facility_token(issuer: str, facility_id: str, secret: str) -> str:
    """Client credentials of the facility's own client, `facility-<id>`."""
    resp = httpx.post(
        f"{issuer}/protocol/openid-connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": f"facility-{facility_id}",
            "client_secret": secret,
        },
        timeout=15,
    )
    if resp.status_code != 200:
        raise ProblemError.from_response(resp)
    return str(resp.json()["access_token"])


@contextmanager
def over_http(gateway: str, facility_id: str, token: str) -> Iterator[Callable[[Planned], None]]:
    with httpx.Client(base_url=gateway, timeout=30) as http:

        def send(p: Planned) -> None:
            method, path = p.item.http_route(facility_id)
            resp = http.request(
                method,
                path,
                content=p.body.model_dump_json(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            if resp.is_error:
                raise ProblemError.from_response(resp)

        yield send


@contextmanager
def over_kafka(bootstrap: str, facility_id: str, key: bytes) -> Iterator[Callable[[Planned], None]]:
    """LOKET_KAFKA_USER / LOKET_KAFKA_PASSWORD log in (SASL/SCRAM) where the broker wants it."""
    from aiokafka import AIOKafkaProducer
    from loket_contracts.capacity import CAPACITY_BODIES
    from loket_contracts.envelope import make_event
    from loket_contracts.topics import FACILITY_CAPACITY
    from loket_messaging.facility_keys import signed_headers
    from loket_messaging.kafka import KafkaAccess

    types: dict[type, str] = {model: type_ for type_, model in CAPACITY_BODIES.items()}

    async def started() -> AIOKafkaProducer:  # aiokafka wants its loop running
        made = AIOKafkaProducer(
            **KafkaAccess.from_env(bootstrap).client_kwargs(), acks="all", linger_ms=0
        )
        await made.start()
        return made

    loop = asyncio.new_event_loop()
    producer = loop.run_until_complete(started())

    def send(p: Planned) -> None:
        event = make_event(
            source=f"facility/{facility_id}",
            type_=types[type(p.body)],
            body=p.body,
            subject=facility_id,
        )
        loop.run_until_complete(
            producer.send_and_wait(
                FACILITY_CAPACITY,
                value=event.data,
                key=facility_id.encode(),
                headers=signed_headers(key, event),
            )
        )

    try:
        yield send
    finally:
        loop.run_until_complete(producer.stop())
        loop.close()


def key_from_env() -> bytes:
    raw = os.environ.get("LOKET_FACILITY_KEY", "")
    if not raw:
        raise OSError("LOKET_FACILITY_KEY is not set: the signing key onboarding gave you")
    return keys.decode(raw)
