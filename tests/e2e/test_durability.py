"""Durable by default: the whole platform is stopped with applications in flight and started
again on the same data (as `loket up` does with its data folder); every application then
completes, and the facility published before the stop is still there."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from loket_infra.identities import ActingAs, IdentityProvider
from loket_infra.stack import EmbeddedStack, StackConfig

from .conftest import Loket, _drop_databases, _postgres_urls

IN_FLIGHT = 10


@contextlib.asynccontextmanager
async def running(config: StackConfig) -> AsyncIterator[EmbeddedStack]:
    stack = EmbeddedStack(config)
    try:
        await asyncio.to_thread(stack.start)  # it runs its own event loop for the topics
        yield stack
    finally:
        await asyncio.to_thread(stack.stop)


async def test_a_stopped_platform_started_again_finishes_what_was_in_flight(
    tmp_path: Path, identity: IdentityProvider
) -> None:
    first = StackConfig(data_dir=tmp_path / "up", identity=identity)
    acting = ActingAs(identity)  # remembers whose applications these are, across the restart
    if first.kafka == "tansu":
        pytest.skip("tansu keeps its log in memory: a restart loses it (make test runs Kafka)")
    urls = _postgres_urls(f"e2e_{uuid.uuid4().hex[:8]}")
    first.database_urls = urls
    try:
        async with running(first) as stack:
            async with httpx.AsyncClient(
                base_url=stack.gateway_url, timeout=30, auth=acting
            ) as http:
                loket = Loket(stack, http)
                site = await loket.facility("IT", units=IN_FLIGHT, price=800)
                apps = [
                    await loket.submit(loket.application(loket.applicant("MT"), (site, 1)))
                    for _ in range(IN_FLIGHT)
                ]
        # stopped: Kafka's log, Temporal's history and the databases stay on disk
        again = StackConfig(
            data_dir=tmp_path / "up",
            database_urls=urls,
            fresh=False,
            identity=identity,
            kafka_port=first.kafka_port,
            temporal_port=first.temporal_port,
            gateway_port=first.gateway_port,
        )
        async with running(again) as stack:
            async with httpx.AsyncClient(
                base_url=stack.gateway_url, timeout=30, auth=acting
            ) as http:
                loket = Loket(stack, http)

                async def finish(app_id: str) -> str:
                    terms = await loket.until_terms(app_id)
                    resp = await http.post(
                        f"/v1/applications/{app_id}/accept",
                        json={"terms_sha256": terms["sha256"]},
                    )
                    assert resp.status_code == 200, resp.text
                    status = await loket.wait_stage(app_id, {"voucher_issued", "failed"})
                    return str(status["stage"])

                stages = await asyncio.gather(*(finish(a) for a in apps))
                assert stages == ["voucher_issued"] * IN_FLIGHT
                catalogue = await http.get(
                    "/v1/catalogue", params={"service_type": site.service_type, "only_free": False}
                )
                [slot] = catalogue.json()["slots"]
                assert (slot["capacity_units"], slot["free_units"]) == (IN_FLIGHT, 0)
    finally:
        _drop_databases(urls)
