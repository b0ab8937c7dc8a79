"""Confidential by design, and accountable: Temporal's history of an application holds no
readable financials or names (payloads are AES-GCM encrypted); managers read them decoded
through the codec endpoint; every write is in the audit trail with who made it; a principal
that writes too fast gets 429 problems while others go on."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from decimal import Decimal

import httpx
from temporalio.client import Client

from .conftest import Loket


async def test_histories_are_ciphertext_and_managers_read_them_through_the_codec(
    loket: Loket,
) -> None:
    site = await loket.facility("BE", price=4321)
    applicant = loket.applicant("LU", name="Confidential Optics SARL", turnover_eur="987654")
    app_id = await loket.submit(loket.application(applicant, (site, 1)))
    await loket.until_terms(app_id)

    # Straight from Temporal, as anyone with access to its database or API would see it.
    raw = await Client.connect(loket.stack.temporal_address, namespace=loket.stack.namespace)
    history = await raw.get_workflow_handle(app_id).fetch_history()
    stored = _payload_bytes(json.loads(history.to_json()))
    assert len(stored) > 10  # input, search attributes, the answers the sends brought back
    # Amounts as the JSON of a decimal has them (a string): bare digits also turn up in the
    # nanoseconds of Temporal's own plain-text local-activity markers ("nanos":943218701).
    for secret in (b"Confidential Optics", b'"987654', b'"4321', b"turnover_eur"):
        assert not [p for p in stored if secret in p]
    started = history.events[0].workflow_execution_started_event_attributes
    payloads = json.loads(history.to_json())["events"][0][
        "workflowExecutionStartedEventAttributes"
    ]["input"]
    assert started.input.payloads[0].metadata["encoding"] == b"binary/encrypted"

    # A manager decodes it through the gateway's codec endpoint (Temporal UI, `temporal
    # workflow show --codec-endpoint … --codec-auth "Bearer …"`); an applicant may not.
    manager = {"Authorization": f"Bearer {loket.stack.identity.role('manager')}"}
    decoded = await loket.http.post("/codec/decode", json=payloads, headers=manager)
    assert decoded.status_code == 200, decoded.text
    [plain] = decoded.json()["payloads"]
    assert b'"987654' in base64.b64decode(plain["data"])  # what the scan above looks for
    body = json.loads(base64.b64decode(plain["data"]))
    assert body["applicant"]["name"] == "Confidential Optics SARL"
    assert Decimal(body["applicant"]["turnover_eur"]) == Decimal(987654)
    owner = {"Authorization": f"Bearer {loket.stack.identity.applicant('LU-x')}"}
    refused = await loket.http.post("/codec/decode", json=payloads, headers=owner)
    assert refused.status_code == 403


def _payload_bytes(node: object) -> list[bytes]:
    """Every payload's data in a history (JSON form: base64 `data` under `payloads`)."""
    found: list[bytes] = []
    if isinstance(node, dict):
        for item in node.get("payloads", []) if isinstance(node.get("payloads"), list) else []:
            found.append(base64.b64decode(item.get("data", "")))
        for value in node.values():
            found += _payload_bytes(value)
    elif isinstance(node, list):
        for value in node:
            found += _payload_bytes(value)
    return found


async def test_every_write_is_in_the_audit_trail_with_who_made_it(loket: Loket) -> None:
    site = await loket.facility("NL")
    applicant = loket.applicant("IE")
    app_id = await loket.submit(loket.application(applicant, (site, 1)))
    terms = await loket.until_terms(app_id)
    wrong = await loket.http.post(
        f"/v1/applications/{app_id}/accept", json={"terms_sha256": "0" * 64}
    )
    assert wrong.status_code == 409
    ok = await loket.http.post(
        f"/v1/applications/{app_id}/decline", json={"terms_sha256": terms["sha256"]}
    )
    assert ok.status_code == 200, ok.text

    auditor = {"Authorization": f"Bearer {loket.stack.identity.role('auditor')}"}
    trail = await loket.http.get("/v1/audit", params={"application_id": app_id}, headers=auditor)
    assert trail.status_code == 200, trail.text
    entries = trail.json()["items"]
    assert [(e["action"], e["status"]) for e in entries] == [
        ("submit", 202),
        ("accept", 409),
        ("decline", 200),
    ]
    assert {e["org"] for e in entries} == {applicant["undertaking_id"]}
    assert all(e["subject"] and "applicant" in e["roles"] for e in entries)
    mine = {
        "Authorization": f"Bearer {loket.stack.identity.applicant(applicant['undertaking_id'])}"
    }
    assert (await loket.http.get("/v1/audit", headers=mine)).status_code == 403


async def test_a_principal_writing_too_fast_gets_429_and_others_go_on(loket: Loket) -> None:
    hasty = {
        "Authorization": f"Bearer {loket.stack.identity.applicant(f'SI-{uuid.uuid4().hex[:6]}')}"
    }
    calm = {
        "Authorization": f"Bearer {loket.stack.identity.applicant(f'HR-{uuid.uuid4().hex[:6]}')}"
    }
    limit = asyncio.Semaphore(20)

    async def cancel(headers: dict[str, str]) -> httpx.Response:
        async with limit:
            return await loket.http.post(
                "/v1/applications/app-nobody/cancel", json={"reason": "x"}, headers=headers
            )

    # Faster than the refill (10 a second on this stack) until refused: the burst (300) goes
    # through first, whatever the machine's speed.
    statuses: list[int] = []
    while 429 not in statuses:
        assert len(statuses) < 5000, "never limited"
        answers = await asyncio.gather(*(cancel(hasty) for _ in range(100)))
        statuses += [r.status_code for r in answers]
    assert set(statuses) == {404, 429}, set(statuses)
    assert statuses.count(404) >= 300
    too_many = next(r for r in answers if r.status_code == 429)
    assert int(too_many.headers["Retry-After"]) >= 1
    assert too_many.json()["type"].endswith("/too-many-writes")
    assert (await cancel(calm)).status_code == 404  # someone else is not slowed down
