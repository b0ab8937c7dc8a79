"""The committed AsyncAPI/OpenAPI documents describe the contracts the code enforces."""

from __future__ import annotations

import json
from pathlib import Path

from loket_infra.apidocs import asyncapi, openapi

DOCS = Path(__file__).resolve().parents[3] / "docs"


def _normalise(doc: object) -> object:
    return json.loads(json.dumps(doc, sort_keys=True, default=str))


def test_asyncapi_document_is_current() -> None:
    committed = json.loads((DOCS / "asyncapi.json").read_text())
    assert committed == _normalise(asyncapi()), "run `.venv/bin/loket docs` and commit docs/"


def test_openapi_document_is_current() -> None:
    committed = json.loads((DOCS / "openapi.json").read_text())
    assert committed == _normalise(openapi()), "run `.venv/bin/loket docs` and commit docs/"


def test_public_capacity_topic_documents_every_facility_event() -> None:
    channel = asyncapi()["channels"]["loket_facility_capacity_v1"]
    assert channel["address"] == "loket.facility.capacity.v1"
    assert len(channel["messages"]) == 5  # profile, slot published, withdrawn, delivery, terms


def test_every_topic_and_message_type_is_documented() -> None:
    from loket_contracts import messages as m
    from loket_contracts.topics import ALL_TOPICS

    doc = asyncapi()
    addresses = {c["address"] for c in doc["channels"].values()}
    assert set(ALL_TOPICS) <= addresses
    documented = {message["name"] for message in doc["components"]["messages"].values()}
    assert set(m.BODIES) <= documented, set(m.BODIES) - documented
