"""Kafka as an attacker meets it: on Apache Kafka no one connects without SASL credentials,
each principal writes only its own topics, and a facility cannot publish for another one
(its events are signed with its own key; anything else is dead-lettered, never applied).
The signature checks hold on tansu too; the broker's authentication and ACLs need Apache."""

from __future__ import annotations

import json
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError, KafkaTimeoutError, TopicAuthorizationFailedError
from loket_contracts import capacity as cap
from loket_contracts.envelope import make_event
from loket_contracts.topics import (
    ELIGIBILITY_EVENTS,
    FACILITY_CAPACITY,
    VOUCHERS_COMMANDS,
    VOUCHERS_EVENTS,
)
from loket_infra.kafka_tools import produce_raw
from loket_messaging import facility_keys
from loket_messaging.kafka import KafkaAccess, KafkaLogin

from .conftest import Loket
from .test_poison import Raw, parked, profile


def needs_sasl(loket: Loket) -> None:
    if not loket.stack.sasl:
        pytest.skip("tansu has no SASL or ACLs: `make test` runs Apache Kafka")


async def test_an_anonymous_or_wrongly_authenticated_client_is_refused(loket: Loket) -> None:
    needs_sasl(loket)
    anonymous = KafkaAccess(loket.stack.kafka_bootstrap)
    wrong = KafkaAccess(loket.stack.kafka_bootstrap, KafkaLogin("gateway", "not-the-password"))
    for access in (anonymous, wrong):
        with pytest.raises(KafkaError) as refused:
            await produce_raw(access, FACILITY_CAPACITY)
        assert not isinstance(refused.value, KafkaTimeoutError), "slow, not refused"


@pytest.mark.parametrize(
    ("principal", "topic"),
    [
        ("facilities", VOUCHERS_COMMANDS),  # a facility cannot command the vouchers service
        ("eligibility", VOUCHERS_EVENTS),  # nor one service speak as another
        ("gateway", ELIGIBILITY_EVENTS),  # nor the gateway feed the bridge
    ],
)
async def test_a_principal_writes_only_its_own_topics(
    loket: Loket, principal: str, topic: str
) -> None:
    needs_sasl(loket)
    with pytest.raises(TopicAuthorizationFailedError):
        await produce_raw(
            KafkaAccess(loket.stack.kafka_bootstrap, loket.stack.kafka_login(principal)), topic
        )


async def test_facilities_cannot_read_what_others_publish(loket: Loket) -> None:
    needs_sasl(loket)
    access = loket.stack.facility_access
    consumer = AIOKafkaConsumer(**access.client_kwargs(), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(FACILITY_CAPACITY, 0)])
        with pytest.raises(TopicAuthorizationFailedError):
            await consumer.seek_to_beginning(TopicPartition(FACILITY_CAPACITY, 0))
            await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()


@pytest.mark.parametrize("forgery", ["signed-by-another-facility", "unsigned"])
async def test_a_facility_cannot_publish_for_another(loket: Loket, forgery: str) -> None:
    """F (with its own key, or none) publishes a profile naming G: parked with the reason, and
    G's catalogue is untouched."""
    victim = await loket.facility("DE")
    body = profile(victim.facility_id, name="Hijacked", sequence=99)
    body["offerings"][0]["service_type"] = victim.service_type
    body["offerings"][0]["market_price_eur"] = 1e9
    data = json.dumps(body).encode()
    event = make_event(
        source=f"facility/{victim.facility_id}",
        type_=cap.PROFILE,
        body=Raw(),
        subject=victim.facility_id,
    ).model_copy(update={"data": data})
    headers = event.kafka_headers()
    if forgery == "signed-by-another-facility":
        own_key = loket.stack.facility_key(f"fac-attacker-{uuid.uuid4().hex[:6]}")
        headers.append((facility_keys.HEADER, facility_keys.signature(own_key, event).encode()))
    await loket.produce(FACILITY_CAPACITY, data, victim.facility_id.encode(), headers, sign=False)

    reasons = {
        "signed-by-another-facility": f"the signature is not facility {victim.facility_id!r}'s",
        "unsigned": "unsigned facility event",
    }
    readers = {"loket-allocation", "loket-charter"}  # both read the capacity topic
    seen = await parked(
        loket, FACILITY_CAPACITY, lambda h, v: event.id == h.get("ce_id"), groups=readers
    )
    assert {h["dlq_consumer_group"] for h in seen} == readers
    assert all(reasons[forgery] in h["dlq_reason"] for h in seen)
    catalogue = await loket.http.get("/v1/catalogue", params={"service_type": victim.service_type})
    [slot] = catalogue.json()["slots"]
    assert slot["facility_name"] != "Hijacked" and float(slot["market_price_eur"]) < 1e9


async def test_the_bridge_signals_only_what_a_service_said_on_its_own_topic(
    loket: Loket,
) -> None:
    """A voucher issuance injected on the eligibility topic (by anyone able to write there)
    never reaches a workflow."""
    event = make_event(
        source="loket/vouchers",
        type_="eu.loket.vouchers.voucher.issued.v1",
        body=Raw(),
        correlation_id="app-nobody",
    )
    await loket.produce(ELIGIBILITY_EVENTS, b"{}", b"app-nobody", event.kafka_headers())
    [seen] = await parked(loket, ELIGIBILITY_EVENTS, lambda h, v: h.get("ce_id") == event.id)
    assert seen["dlq_consumer_group"] == "loket-workflows"
    assert "not loket/eligibility" in seen["dlq_reason"]
