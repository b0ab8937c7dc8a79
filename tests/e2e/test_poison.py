"""Every poison record that once stopped a consumer for good now lands on its topic's DLQ with
the reason and origin, and a valid record sent after it is applied."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from loket_contracts import capacity as cap
from loket_contracts import messages as m
from loket_contracts.envelope import make_event
from loket_contracts.topics import ALLOCATION_EVENTS, FACILITY_CAPACITY, dlq
from loket_infra.stack import EmbeddedStack
from pydantic import BaseModel

from .conftest import PATIENCE_S, T0, Loket


class Raw(BaseModel):
    """An empty body: the envelope only; the tests write the hostile bytes themselves."""


def capacity_event(facility_id: str, type_: str, body: dict[str, Any]) -> tuple[bytes, list]:
    event = make_event(
        source=f"facility/{facility_id}", type_=type_, body=Raw(), subject=facility_id
    )
    # Python's json writes what a hostile producer would: Infinity, 2**64, 700 KB strings.
    return json.dumps(body).encode(), event.kafka_headers()


def profile(facility_id: str, **more: Any) -> dict[str, Any]:
    return {
        "facility_id": facility_id,
        "sequence": 1,
        "name": "Poisoned",
        "site": "Site",
        "country": "FR",
        "kind": "RI",
        "offerings": [
            {
                "offering_id": "o1",
                "service_type": "poison.test",
                "unit": "shift",
                "market_price_eur": 1000,
                "access_modes": ["physical"],
            }
        ],
        **more,
    }


def priced(price: float) -> Callable[[str], tuple[bytes, list]]:
    def make(fid: str) -> tuple[bytes, list]:
        body = profile(fid)
        body["offerings"][0]["market_price_eur"] = price
        data, headers = capacity_event(fid, cap.PROFILE, body)
        return data, headers

    return make


def delivery_overflow(fid: str) -> tuple[bytes, list]:
    return capacity_event(
        fid,
        cap.DELIVERY,
        {
            "facility_id": fid,
            "sequence": 2**64,
            "application_id": "app-x",
            "slot_id": "s",
            "units_delivered": 1,
            "delivered_at": T0.isoformat(),
        },
    )


def terms_overflow(fid: str) -> tuple[bytes, list]:
    return capacity_event(
        fid,
        cap.TERMS,
        {
            "facility_id": fid,
            "sequence": 2**64,
            "safety_rules": "x",
            "sample_handling": "x",
            "local_law_notes": "x",
        },
    )


def huge_name(fid: str) -> tuple[bytes, list]:
    return capacity_event(fid, cap.PROFILE, profile(fid, name="N" * 700_000))


def source_not_utf8(fid: str) -> tuple[bytes, list]:
    data, headers = capacity_event(fid, cap.PROFILE, profile(fid))
    return data, [(k, b"facility/\xff\xfe" if k == "ce_source" else v) for k, v in headers]


POISON = {
    "delivery-sequence-2^64": (delivery_overflow, "sequence"),
    "terms-sequence-2^64": (terms_overflow, "sequence"),
    "price-1e308": (priced(1e308), "market_price_eur"),
    "price-infinity": (priced(float("inf")), "market_price_eur"),
    "name-700KB": (huge_name, "name"),
    "ce_source-not-utf8": (source_not_utf8, "header 'ce_source' is not UTF-8"),
}


async def parked(
    loket: Loket,
    topic: str,
    marker: Callable[[dict[str, str], bytes], bool],
    deadline_s: float = PATIENCE_S,
    groups: set[str] | None = None,
) -> list[dict[str, str]]:
    """The parked records `marker` picks, once any are there (or, with `groups`, once each of
    those consumer groups has parked one: they park independently)."""
    end = time.monotonic() + deadline_s
    while True:
        found = [h for h, v in await loket.records(dlq(topic)) if marker(h, v)]
        if found and (groups is None or groups <= {h["dlq_consumer_group"] for h in found}):
            return found
        assert time.monotonic() < end, f"not parked on {dlq(topic)} by {groups or 'anyone'}"
        await asyncio.sleep(0.3)


@pytest.mark.parametrize("kind", list(POISON))
async def test_poison_on_the_capacity_topic_is_parked_and_the_next_record_applied(
    loket: Loket, kind: str
) -> None:
    make, expected = POISON[kind]
    fid = f"fac-poison-{uuid.uuid4().hex[:8]}"
    data, headers = make(fid)
    await loket.produce(FACILITY_CAPACITY, data, fid.encode(), headers)
    site = await loket.facility("FR")  # valid records behind it, on any partition
    after = await loket.http.get("/v1/catalogue", params={"service_type": site.service_type})
    assert after.json()["slots"], "the valid facility published after the poison is applied"
    for headers_seen in await parked(loket, FACILITY_CAPACITY, lambda h, v: fid.encode() in v):
        assert expected in headers_seen["dlq_reason"], headers_seen["dlq_reason"]
        assert headers_seen["dlq_source_topic"] == FACILITY_CAPACITY
        assert headers_seen["dlq_consumer_group"].startswith("loket-")


async def test_a_service_event_that_is_not_utf8_is_parked_by_the_bridge(loket: Loket) -> None:
    marker = uuid.uuid4().hex.encode()
    event = make_event(
        source="loket/allocation",
        type_="eu.loket.allocation.hold.placed.v1",
        body=Raw(),
        correlation_id="app-nobody",
    )
    await loket.produce(
        ALLOCATION_EVENTS, b"\xff\xfe" + marker, b"app-nobody", event.kafka_headers()
    )
    [seen] = await parked(loket, ALLOCATION_EVENTS, lambda h, v: marker in v)
    assert seen["dlq_consumer_group"] == "loket-workflows"
    assert seen["dlq_reason"].startswith("poison: ")
    # and the bridge goes on: a new application still reaches its terms
    site = await loket.facility("BE")
    app_id = await loket.submit(loket.application(loket.applicant("LU"), (site, 1)))
    await loket.until_terms(app_id)


async def test_the_catalogue_answers_after_a_facility_tried_to_overflow_it(
    loket: Loket,
) -> None:
    """A 700 KB name once made the catalogue reply too large for the broker, and the relay
    retried it forever. The name is refused now, and replies come a page at a time."""
    fid = f"fac-big-{uuid.uuid4().hex[:8]}"
    data, headers = huge_name(fid)
    await loket.produce(FACILITY_CAPACITY, data, fid.encode(), headers)
    site = await loket.facility("DK", units=2)
    page = (await loket.http.get("/v1/catalogue", params={"limit": 1})).json()
    assert len(page["slots"]) == 1 and page["truncated"] and page["next_offset"] == 1
    mine = await loket.http.get("/v1/catalogue", params={"service_type": site.service_type})
    assert mine.status_code == 200 and json.loads(mine.text)["slots"][0]["free_units"] == 2
    util = (await loket.http.get("/v1/utilisation", params={"limit": 1})).json()
    assert len(util["facilities"]) == 1 and util["next_offset"] == 1
    rest = (await loket.http.get("/v1/utilisation", params={"offset": 1, "limit": 1000})).json()
    assert util["facilities"][0] not in rest["facilities"] and rest["next_offset"] is None


async def test_poison_messages_go_to_the_dlq_and_the_service_keeps_serving(
    loket: Loket, stack: EmbeddedStack
) -> None:
    marker = f"poison-{id(loket)}".encode()
    await loket.produce("loket.facility.capacity.v1", b"not json " + marker, key=b"x")
    bad_slot = (
        b'{"facility_id":"fac-x","sequence":1,"slot_id":"s","offering_id":"o",'
        b'"start":"2027-05-02T00:00:00Z","end":"2027-05-01T00:00:00Z",'
        b'"capacity_units":1,"note":"' + marker + b'"}'
    )
    event = make_event(
        source="facility/fac-x",
        type_="eu.loket.facility.slot.published.v1",
        body=m.HoldFailed(application_id="x", reason="x"),
    )
    await loket.produce(
        "loket.facility.capacity.v1", bad_slot, key=b"fac-x", headers=event.kafka_headers()
    )
    # The allocation service must still serve: new capacity is usable right after the poison.
    site = await loket.facility("IT")
    app_id = await loket.submit(loket.application(loket.applicant("AT"), (site, 1)))
    assert (await loket.until_terms(app_id))["sha256"]

    # every consumer of the public topic parks what it cannot read; look at allocation's
    parked = [
        (h, v)
        for h, v in await loket.records("loket.facility.capacity.v1.dlq")
        if marker in v and h["dlq_consumer_group"] == "loket-allocation"
    ]
    reasons = sorted(h["dlq_reason"] for h, _ in parked)
    assert len(parked) == 2, reasons
    assert any("ce_specversion" in r for r in reasons)  # no CloudEvents headers at all
    assert any("end must be after start" in r for r in reasons)  # invalid body
    assert all(h["dlq_consumer_group"] == "loket-allocation" for h, _ in parked)
    assert stack.processes["allocation"].alive()
