"""Every contract that carries input into Loket, over HTTP or Kafka, is bounded: numbers have a
maximum, strings a length (or a fixed vocabulary or format), lists a size. Checked on the
JSON Schema the contracts publish, so a new field without a bound fails here."""

from __future__ import annotations

from typing import Any

import pytest
from loket_contracts import capacity as cap
from loket_contracts import messages as m
from loket_contracts.application import (
    AccessReport,
    ApplicationInput,
    Cancellation,
    ManagerDecision,
    TermsDecision,
)
from loket_contracts.submission import ApplicationRequest
from pydantic import BaseModel

COMMANDS = [
    m.ELIGIBILITY_REQUESTED,
    m.HOLD_REQUESTED,
    m.ROUND_REQUESTED,
    m.SCREENING_REQUESTED,
    m.CONFIRM_REQUESTED,
    m.RELEASE_REQUESTED,
    m.ISSUE_REQUESTED,
    m.RESERVATION_RELEASE_REQUESTED,
    m.REDEEM_REQUESTED,
    m.VOUCHER_CLOSE_REQUESTED,
    m.BOOKING_CLOSE_REQUESTED,
    m.TERMS_REQUESTED,
    m.HEADROOM_QUERY,
    m.BUDGET_QUERY,
    m.REGISTER_QUERY,
    m.CATALOGUE_QUERY,
    m.UTILISATION_QUERY,
    m.DOCUMENT_QUERY,
]
INPUTS: dict[str, type[BaseModel]] = {
    **cap.CAPACITY_BODIES,
    **{t: m.BODIES[t] for t in COMMANDS},
    **{
        c.__name__: c
        for c in (
            ApplicationRequest,
            ApplicationInput,
            AccessReport,
            TermsDecision,
            ManagerDecision,
            Cancellation,
        )
    },
}


def _is_decimal(schema: dict[str, Any]) -> bool:
    # pydantic writes a Decimal as a number or a numeric string; the number carries the bounds
    # and the string is validated to the same bounds.
    # An optional Decimal adds a null.
    kinds = [s.get("type") for s in schema.get("anyOf", [])]
    return sorted(k for k in kinds if k and k != "null") == ["number", "string"]


def unbounded(schema: dict[str, Any], defs: dict[str, Any], path: str) -> list[str]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return [] if f"/{name}" in path else unbounded(defs[name], defs, f"{path}/{name}")
    out: list[str] = []
    if _is_decimal(schema):
        number = next(s for s in schema["anyOf"] if s.get("type") == "number")
        return [] if "maximum" in number else [path]
    for sub in schema.get("anyOf", []) + schema.get("allOf", []):
        out += unbounded(sub, defs, path)
    kind = schema.get("type")
    if kind in ("integer", "number") and not {"maximum", "exclusiveMaximum"} & set(schema):
        out.append(path)
    if kind == "string" and not {"maxLength", "enum", "const", "format"} & set(schema):
        if not schema.get("pattern", "").endswith("$"):
            out.append(path)
    if kind == "array":
        if "maxItems" not in schema:
            out.append(path + "[]")
        out += unbounded(schema.get("items", {}), defs, path + "[]")
    for name, sub in schema.get("properties", {}).items():
        out += unbounded(sub, defs, f"{path}.{name}")
    return out


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_every_input_field_is_bounded(name: str) -> None:
    schema = INPUTS[name].model_json_schema()
    assert unbounded(schema, schema.get("$defs", {}), INPUTS[name].__name__) == []
