"""CloudEvents binary mode over Kafka headers."""

from __future__ import annotations

import pytest
from loket_contracts.capacity import SlotPublished
from loket_contracts.envelope import EnvelopeError, from_kafka, header_map, make_event
from loket_contracts.messages import HoldFailed


def test_round_trip_through_kafka_headers() -> None:
    event = make_event(
        source="loket/allocation",
        type_="t.v1",
        body=HoldFailed(application_id="app-1", reason="none free"),
        correlation_id="app-1",
    )
    back = from_kafka(header_map(event.kafka_headers()), event.data)
    assert back == event
    assert back.decode(HoldFailed).reason == "none free"
    answer = event.model_copy(update={"causation_id": "app-1/hold"})
    assert from_kafka(header_map(answer.kafka_headers()), answer.data) == answer


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "ce_specversion"),
        ({"ce_specversion": "1.0", "ce_id": "1", "ce_type": "t"}, "ce_source"),
        (
            {
                "ce_specversion": "1.0",
                "ce_id": "1",
                "ce_type": "t",
                "ce_source": "s",
                "content-type": "text/plain",
            },
            "content-type",
        ),
        (
            {
                "ce_specversion": "1.0",
                "ce_id": "1",
                "ce_type": "t",
                "ce_source": "s",
                "ce_time": "yesterday",
            },
            "RFC 3339",
        ),
    ],
)
def test_bad_envelopes_say_what_is_wrong(headers: dict[str, str], message: str) -> None:
    with pytest.raises(EnvelopeError, match=message):
        from_kafka(headers, b"{}")


def test_invalid_body_names_the_field() -> None:
    event = make_event(
        source="facility/f1",
        type_="eu.loket.facility.slot.published.v1",
        body=HoldFailed(application_id="x", reason="y"),
    )
    event.data = (
        b'{"facility_id":"f1","sequence":3,"slot_id":"s","offering_id":"o",'
        b'"start":"2027-03-02T00:00:00Z","end":"2027-03-01T00:00:00Z",'
        b'"capacity_units":2}'
    )
    with pytest.raises(EnvelopeError, match="end must be after start"):
        event.decode(SlotPublished)
