"""What a test suite gets from `loket_platform`: one interface, whichever way Loket runs.

`containers` starts every piece as a container through testcontainers (the images of
`make images`); `embedded` runs the same programs as local processes (`loket up`'s stack).
Both give the gateway's URL, the Kafka bootstrap address and the credentials to use them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from loket_infra.identities import ActingAs, IdentityProvider
from loket_infra.platform import Platform as Running
from loket_messaging.kafka import KafkaAccess

Kind = Literal["containers", "embedded"]
PATIENCE_S = 300.0  # a poll returns as soon as its condition holds


@dataclass
class LoketPlatform:
    """A running Loket, for a test: URLs, credentials and a client that signs in as needed."""

    kind: Kind
    running: Running

    @property
    def gateway_url(self) -> str:
        return self.running.gateway_url

    @property
    def kafka_bootstrap(self) -> str:
        return self.running.kafka_bootstrap

    @property
    def kafka_admin(self) -> KafkaAccess:
        """The operator's Kafka credentials (topics, lag, any record)."""
        return self.running.kafka_admin

    @property
    def facility_access(self) -> KafkaAccess:
        """The credentials an external facility producer connects with."""
        return self.running.facility_access

    @property
    def identity(self) -> IdentityProvider:
        """The OIDC provider: tokens for applicants, facilities, managers, auditors."""
        return self.running.identity

    def facility_key(self, facility_id: str) -> bytes:
        """The key that signs facility `facility_id`'s Kafka events."""
        return self.running.facility_key(facility_id)

    def client(self, timeout_s: float = 30.0, *, raise_errors: bool = True) -> httpx.AsyncClient:
        """An HTTP client on the gateway that acts, per request, as whoever may make it: the
        applicant for its applications, the facility for its publications, a manager else.
        It raises on a 4xx/5xx answer (with the problem body) unless told not to."""
        hooks = {"response": [_raise_for_status]} if raise_errors else {}
        return httpx.AsyncClient(
            base_url=self.gateway_url,
            timeout=timeout_s,
            auth=ActingAs(self.identity),
            event_hooks=hooks,
        )


async def _raise_for_status(response: httpx.Response) -> None:
    if response.is_error:
        await response.aread()  # the problem's title and detail go into the error
        raise httpx.HTTPStatusError(
            f"{response.request.method} {response.request.url.path}: {response.status_code} "
            f"{response.text[:500]}",
            request=response.request,
            response=response,
        )


async def wait_for_stage(
    http: httpx.AsyncClient, application_id: str, *stages: str, deadline_s: float = PATIENCE_S
) -> dict[str, Any]:
    """Poll an application until it reaches one of `stages` (or fails the test)."""
    end = time.monotonic() + deadline_s
    while True:
        resp = await http.get(f"/v1/applications/{application_id}")
        resp.raise_for_status()
        status: dict[str, Any] = resp.json()
        if status["stage"] in stages:
            return status
        if time.monotonic() > end:
            raise AssertionError(f"{application_id} still {status['stage']}, not in {stages}")
        await asyncio.sleep(0.2)


async def wait_for_catalogue(
    http: httpx.AsyncClient, service_type: str, deadline_s: float = PATIENCE_S
) -> list[dict[str, Any]]:
    """Poll the public catalogue until `service_type` has free capacity (a facility's
    publication travels over Kafka to the allocation service first)."""
    end = time.monotonic() + deadline_s
    while True:
        resp = await http.get("/v1/catalogue", params={"service_type": service_type})
        resp.raise_for_status()
        slots: list[dict[str, Any]] = resp.json()["slots"]
        if slots:
            return slots
        if time.monotonic() > end:
            raise AssertionError(f"{service_type} not in the catalogue within {deadline_s:.0f}s")
        await asyncio.sleep(0.2)
