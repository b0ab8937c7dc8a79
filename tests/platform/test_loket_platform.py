"""loket_testing's platform, one contract run on both ways of running Loket (as FastStream
runs one test case on its in-memory and its real broker): containers through testcontainers,
and the embedded processes. The first test is the README's example for integrators."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
from aiokafka.errors import KafkaError, KafkaTimeoutError
from loket_contracts.topics import FACILITY_CAPACITY
from loket_infra.docker_engine import engine_answers
from loket_infra.kafka_tools import produce_raw
from loket_messaging.kafka import KafkaAccess
from loket_testing import LoketPlatform, wait_for_catalogue, wait_for_stage
from loket_testing.containers import images_present
from loket_testing.examples import Facility, application
from loket_testing.platform import Kind
from loket_testing.plugin import chosen_kind, start_platform


class PlatformContract:
    """What an integrator may rely on, whichever way Loket runs."""

    kind: Kind

    @pytest.fixture(scope="class")
    @classmethod
    def platform(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoketPlatform]:
        with start_platform(cls.kind, tmp_path_factory.mktemp(cls.kind)) as running:
            yield running

    async def test_a_start_up_gets_its_voucher(self, platform: LoketPlatform) -> None:
        # The README's example for integrators, as it stands there.
        site = Facility(country="DE")
        async with platform.client() as http:  # signs in as each actor; raises on 4xx/5xx
            await http.put(f"/v1/facilities/{site.facility_id}/profile", json=site.profile)
            await http.post(f"/v1/facilities/{site.facility_id}/slots", json=site.slot)
            await wait_for_catalogue(http, site.service_type)
            body = application(site.service_type, units=2, country="AT")
            app = (await http.post("/v1/applications", json=body)).json()["application_id"]
            await wait_for_stage(http, app, "awaiting_acceptance")
            terms = (await http.get(f"/v1/applications/{app}/terms")).json()
            await http.post(
                f"/v1/applications/{app}/accept", json={"terms_sha256": terms["sha256"]}
            )
            status = await wait_for_stage(http, app, "voucher_issued")
        assert status["voucher_id"].startswith("V-")

    async def test_strangers_are_refused(self, platform: LoketPlatform) -> None:
        async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=60) as anonymous:
            resp = await anonymous.get("/v1/applications")
        assert resp.status_code == 401
        assert resp.headers["content-type"] == "application/problem+json"
        if platform.kafka_admin.login is None:
            pytest.skip("this broker runs without SASL (the tansu lane)")
        with pytest.raises(KafkaError) as refused:
            await produce_raw(KafkaAccess(platform.kafka_bootstrap), FACILITY_CAPACITY)
        assert not isinstance(refused.value, KafkaTimeoutError), "slow, not refused"

    def test_it_listens_on_loopback_only(self, platform: LoketPlatform) -> None:
        assert platform.kind == self.kind
        assert httpx.URL(platform.gateway_url).host == "127.0.0.1"
        assert platform.kafka_bootstrap.startswith("127.0.0.1:")
        assert platform.identity.issuer.startswith("http://127.0.0.1:")
        assert len(platform.facility_key("fac-x")) == 32


class TestEmbedded(PlatformContract):
    kind = "embedded"


def _without_containers() -> str | None:
    """Why the container tests cannot run here, or None."""
    if os.environ.get("LOKET_CONTAINER_LANE") == "1":
        return None  # make test's container lane built the images: run (and fail if broken)
    if not engine_answers():
        return "no container lane: `make test` adds one where an engine can be started"
    return None if images_present() else "the images are missing: `make images`"


@pytest.mark.containers
@pytest.mark.skipif(_without_containers() is not None, reason=str(_without_containers()))
class TestContainers(PlatformContract):
    kind = "containers"


def test_the_choice_follows_the_option(
    monkeypatch: pytest.MonkeyPatch, pytestconfig: pytest.Config
) -> None:
    monkeypatch.setenv("LOKET_PLATFORM", "embedded")
    assert chosen_kind(pytestconfig) == "embedded"
    monkeypatch.setenv("LOKET_PLATFORM", "k8s")
    with pytest.raises(pytest.UsageError):
        chosen_kind(pytestconfig)
