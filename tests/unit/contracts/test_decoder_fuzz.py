"""hypothesis on the Kafka contract decoders: whatever bytes arrive, decoding either yields a
bounded model or raises EnvelopeError (which the consumers park on the DLQ). Any other
exception would be an unexpected error and cost a consumer its retries."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loket_contracts import capacity as cap
from loket_contracts.bounds import INT64_MAX, MAX_EUR
from loket_contracts.envelope import CloudEvent, EnvelopeError, from_kafka, strict_headers
from loket_contracts.messages import BODIES
from pydantic import BaseModel

MODELS: dict[str, type[BaseModel]] = {**BODIES, **cap.CAPACITY_BODIES}

# JSON values an attacker would try: huge and special numbers, long and odd strings.
hostile_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 2**63, 2**64, "Infinity", "NaN", "1e999", "-0"]),
    st.text(max_size=50),
    st.text(min_size=3000, max_size=3001, alphabet="x"),
    st.sampled_from(["2999-01-01", "0001-01-01T00:00:00Z", "2027-05-03T08:00:00Z"]),
)
json_values = st.recursive(
    hostile_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def body_for(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with the model's own field names, filled with hostile values."""
    fields = list(model.model_fields)
    return st.fixed_dictionaries({}, optional={f: json_values for f in fields})


def _bounded(value: object) -> None:
    """Every number a decoded model holds is finite and within int64 / the money maximum."""
    if isinstance(value, BaseModel):
        for item in value.__dict__.values():
            _bounded(item)
    elif isinstance(value, list | tuple | set):
        for item in value:
            _bounded(item)
    elif isinstance(value, dict):
        for item in value.values():
            _bounded(item)
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        assert abs(value) <= INT64_MAX
    elif isinstance(value, float):
        assert math.isfinite(value)
    elif isinstance(value, Decimal):
        assert value.is_finite() and abs(value) <= MAX_EUR


def event(type_: str, data: bytes) -> CloudEvent:
    return CloudEvent(id="e", source="facility/f", type=type_, data=data)


@pytest.mark.parametrize("type_", sorted(MODELS))
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_hostile_body_decodes_to_a_bounded_model_or_is_refused(
    type_: str, data: st.DataObject
) -> None:
    model = MODELS[type_]
    body = data.draw(body_for(model))
    raw = json.dumps(body, allow_nan=True).encode()
    try:
        decoded = event(type_, raw).decode(model)
    except EnvelopeError:
        return
    _bounded(decoded)


@settings(max_examples=200, deadline=None)
@given(
    headers=st.lists(st.tuples(st.text(max_size=20), st.binary(max_size=40)), max_size=8),
    body=st.binary(max_size=200),
)
def test_arbitrary_records_are_refused_with_a_reason_never_crash(
    headers: list[tuple[str, bytes]], body: bytes
) -> None:
    try:
        evt = from_kafka(strict_headers(headers), body)
        evt.decode(MODELS[cap.DELIVERY])
    except EnvelopeError as exc:
        assert str(exc)  # a reason for the DLQ record
