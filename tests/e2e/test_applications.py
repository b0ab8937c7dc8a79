"""End to end through HTTP: what an applicant and a facility see."""

from __future__ import annotations

import asyncio
import hashlib
import json
from decimal import Decimal

from loket_contracts import messages as m
from loket_contracts.capacity import SlotWithdrawn
from loket_contracts.envelope import make_event
from loket_contracts.topics import (
    ALLOCATION_COMMANDS,
    ALLOCATION_EVENTS,
    APPLICATION_EVENTS,
    VOUCHERS_COMMANDS,
    VOUCHERS_EVENTS,
)
from loket_infra.kafka_tools import publish_capacity
from loket_infra.stack import EmbeddedStack

from .conftest import Loket


def prior_aid(amount: int) -> list[dict[str, str]]:
    return [{"granted_on": "2025-06-01", "amount_eur": str(amount), "instrument": "de_minimis"}]


async def test_voucher_issued_for_a_two_country_ri_ti_bundle(loket: Loket) -> None:
    beamline = await loket.facility("FR", kind="RI", price=4000)
    cleanroom = await loket.facility("BE", kind="TI", price=900, unit="hour", units=40)
    app_id = await loket.submit(
        loket.application(loket.applicant("AT"), (beamline, 2), (cleanroom, 10))
    )
    terms = await loket.until_terms(app_id)
    # The applicant can check that what they accept is exactly the text they read.
    assert terms["sha256"] == hashlib.sha256(terms["text"].encode()).hexdigest()
    assert "Site" in terms["text"] and "(EU) 2023/2831" in terms["text"]

    wrong = await loket.http.post(
        f"/v1/applications/{app_id}/accept", json={"terms_sha256": "0" * 64}
    )
    assert wrong.status_code == 409
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json()["type"].endswith("/terms-mismatch")

    pdf = await loket.http.get(terms["documents"]["pdf"])
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    md = await loket.http.get(f"/v1/applications/{app_id}/agreement", params={"format": "md"})
    assert md.text == terms["text"]  # the very text whose hash is accepted
    ok = await loket.http.post(
        f"/v1/applications/{app_id}/accept",
        json={
            "terms_sha256": terms["sha256"],
            "decided_by": "Dr. Ada Founder, CEO",
            "request": {"request_id": "forged", "received_at": "2020-01-01T00:00:00Z"},
        },
    )
    assert ok.status_code == 200, ok.text
    acceptance = ok.json()["acceptance"]
    assert acceptance["terms_sha256"] == terms["sha256"]
    assert acceptance["decided_by"] == "Dr. Ada Founder, CEO"
    assert acceptance["language"] == "en" and acceptance["template_id"] == "pilot-access"
    assert acceptance["request"]["request_id"] != "forged"  # the gateway states what it saw
    assert acceptance["request"]["client"] == "127.0.0.1"
    status = await loket.wait_stage(app_id, {"voucher_issued", "failed"})
    assert status["stage"] == "voucher_issued", status
    assert status["voucher_id"].startswith("V-")
    assert {line["country"] for line in status["allocation"]} == {"FR", "BE"}
    assert status["aid"]["instrument"] == "de_minimis"
    assert Decimal(status["aid"]["voucher_eur"]) == Decimal(2 * 4000 + 10 * 900)


async def test_decline_releases_the_hold_and_gives_headroom_back(loket: Loket) -> None:
    # One slot with exactly 3 units, and a single undertaking with €10,000 de minimis headroom.
    site = await loket.facility("DE", units=3, price=3000)
    undertaking = loket.applicant("PT", declared_prior_aid=prior_aid(290_000))
    first = await loket.submit(loket.application(undertaking, (site, 3)))
    terms = await loket.until_terms(first)
    declined = await loket.http.post(
        f"/v1/applications/{first}/decline",
        json={"terms_sha256": terms["sha256"], "reason": "later"},
    )
    assert declined.status_code == 200
    assert (await loket.wait_stage(first, {"declined"}))["stage"] == "declined"

    # Same undertaking, same units: only possible if both the slot and the €9,000 came back.
    second = await loket.submit(loket.application(undertaking, (site, 3)))
    terms = await loket.until_terms(second)
    status = (await loket.http.get(f"/v1/applications/{second}")).json()
    assert [line["slot_id"] for line in status["allocation"]] == [site.slot_id]
    assert Decimal(status["aid"]["aid_element_eur"]) == Decimal(9000)
    await loket.http.post(
        f"/v1/applications/{second}/accept", json={"terms_sha256": terms["sha256"]}
    )
    assert (await loket.wait_stage(second, {"voucher_issued", "failed"}))[
        "stage"
    ] == "voucher_issued"


async def test_ineligible_applicant_is_told_why(loket: Loket) -> None:
    site = await loket.facility("SE")
    big = loket.applicant(
        "DK", staff_awu=900, turnover_eur="200000000", balance_sheet_eur="150000000"
    )
    app_id = await loket.submit(loket.application(big, (site, 1)))
    status = await loket.wait_stage(app_id, {"ineligible", "voucher_issued", "awaiting_acceptance"})
    assert status["stage"] == "ineligible"
    assert any("exceed the SME limits" in reason for reason in status["reasons"])
    failed = [r for r in status["eligibility"] if not r["passed"]]
    assert failed[0]["rule_id"] == "sme.size"
    assert "2003/361" in failed[0]["legal_source"]
    assert status["allocation"] == []


async def test_duplicate_commands_change_nothing(loket: Loket) -> None:
    site = await loket.facility("NL", units=4, price=2500)
    app_id = await loket.submit(loket.application(loket.applicant("PL"), (site, 2)))
    await loket.until_terms(app_id)
    status = (await loket.http.get(f"/v1/applications/{app_id}")).json()

    # Redeliver the screening command with its original event id (as a broker redelivery or a
    # retried activity would) and re-send the hold command with a fresh id (a client retry).
    screening = m.ScreeningRequested(
        application_id=app_id,
        undertaking_id="PL-dup",
        call_id="LOKET-2026-01",
        priority_area="advanced-materials",
        market_value_eur=Decimal(5000),
        applicant_payment_eur=Decimal(0),
        as_of="2026-11-28",
    )
    dup = make_event(
        source="loket/workflows",
        type_=m.SCREENING_REQUESTED,
        body=screening,
        correlation_id=app_id,
        event_id=f"{app_id}/screening",
    )
    await loket.produce(VOUCHERS_COMMANDS, dup.data, app_id.encode(), dup.kafka_headers())
    hold = m.HoldRequested(
        application_id=app_id,
        applicant_workplace_country="PL",
        needs=[
            m.Need.model_validate(n)
            for n in loket.application(loket.applicant(), (site, 2))["needs"]
        ],
        hold_ttl_seconds=3600,
    )
    again = make_event(
        source="loket/workflows", type_=m.HOLD_REQUESTED, body=hold, correlation_id=app_id
    )
    await loket.produce(ALLOCATION_COMMANDS, again.data, app_id.encode(), again.kafka_headers())
    await loket.caught_up("loket-vouchers", VOUCHERS_COMMANDS)
    await loket.caught_up("loket-allocation", ALLOCATION_COMMANDS)

    reserved = {
        h["ce_id"]: json.loads(v)
        for h, v in await loket.records(VOUCHERS_EVENTS)
        if h.get("ce_correlationid") == app_id and h["ce_type"] == m.AID_RESERVED
    }
    # The redelivered command produced no second reservation: its answer went out again,
    # the same event (same ce_id), which the workflow already had.
    assert len(reserved) == 1
    after = (await loket.http.get(f"/v1/applications/{app_id}")).json()
    assert after["aid"] == status["aid"] and after["allocation"] == status["allocation"]
    # The hold was not doubled: the slot's other 2 units are still free for someone else.
    other = await loket.submit(loket.application(loket.applicant("CZ"), (site, 2)))
    assert (await loket.until_terms(other))["sha256"]


async def test_withdrawn_capacity_re_allocates_and_needs_a_new_acceptance(loket: Loket) -> None:
    first = await loket.facility("FI", units=2, price=1000)
    backup = await loket.facility("SE", units=2, price=2000, service_type=first.service_type)
    app_id = await loket.submit(loket.application(loket.applicant("EE"), (first, 2)))
    old_terms = await loket.until_terms(app_id)
    status = (await loket.http.get(f"/v1/applications/{app_id}")).json()
    assert [line["facility_id"] for line in status["allocation"]] == [first.facility_id]

    await publish_capacity(
        loket.stack.facility_access,
        [
            SlotWithdrawn(
                facility_id=first.facility_id,
                sequence=10,
                slot_id=first.slot_id,
                reason="beam dump",
            )
        ],
        loket.stack.facility_key,
    )
    invalidated = []
    for _ in range(100):  # the allocation service tells the application
        invalidated = [
            h
            for h, _ in await loket.records(ALLOCATION_EVENTS)
            if h.get("ce_correlationid") == app_id and h["ce_type"] == m.ALLOCATION_INVALIDATED
        ]
        if invalidated:
            break
        await asyncio.sleep(0.2)
    assert len(invalidated) == 1

    new_terms = old_terms
    for _ in range(150):  # the workflow offers a new bundle with a new agreement
        status = (await loket.http.get(f"/v1/applications/{app_id}")).json()
        if (
            status["stage"] == "awaiting_acceptance"
            and status["terms_sha256"] != old_terms["sha256"]
        ):
            new_terms = (await loket.http.get(f"/v1/applications/{app_id}/terms")).json()
            break
        await asyncio.sleep(0.2)
    assert new_terms["sha256"] != old_terms["sha256"]
    assert [line["facility_id"] for line in status["allocation"]] == [backup.facility_id]
    assert "beam dump" in status["reasons"][0]
    stale = await loket.http.post(
        f"/v1/applications/{app_id}/accept", json={"terms_sha256": old_terms["sha256"]}
    )
    assert stale.status_code == 409 and stale.json()["type"].endswith("/terms-mismatch")
    await loket.http.post(
        f"/v1/applications/{app_id}/accept", json={"terms_sha256": new_terms["sha256"]}
    )
    done = await loket.wait_stage(app_id, {"voucher_issued", "failed"})
    assert done["stage"] == "voucher_issued", done


async def test_cancel_gives_back_the_slot_and_is_searchable_by_stage(loket: Loket) -> None:
    site = await loket.facility("CZ", units=2)
    applicant = loket.applicant("HU")
    app_id = await loket.submit(loket.application(applicant, (site, 2)))
    await loket.until_terms(app_id)
    resp = await loket.http.post(
        f"/v1/applications/{app_id}/cancel", json={"reason": "the project was stopped", "by": "CTO"}
    )
    assert resp.status_code == 200, resp.text
    status = await loket.wait_stage(app_id, {"cancelled"})
    assert status["reasons"] == ["cancelled by CTO: the project was stopped"]
    again = await loket.http.post(f"/v1/applications/{app_id}/cancel", json={"reason": "twice"})
    assert again.status_code in (404, 409)
    # the slot is free again for someone else
    other = await loket.submit(loket.application(loket.applicant("SK"), (site, 2)))
    assert (await loket.until_terms(other))["sha256"]

    # managers find it in Temporal by stage and applicant country (visibility lags a little)
    from temporalio.client import Client

    client = await Client.connect(loket.stack.temporal_address, namespace="loket")
    query = 'LoketStage = "cancelled" AND LoketApplicantCountry = "HU"'
    found: list[str] = []
    for _ in range(100):
        found = [w.id async for w in client.list_workflows(query)]
        if app_id in found:
            break
        await asyncio.sleep(0.2)
    assert app_id in found


async def test_terms_stay_readable_while_the_workflow_worker_is_away(
    loket: Loket, stack: EmbeddedStack
) -> None:
    """The gateway serves the terms on offer from its read model: an applicant reads them
    during a worker deploy, and accepts them once the worker is back."""
    site = await loket.facility("NL", units=2, price=1200)
    app_id = await loket.submit(loket.application(loket.applicant("DK"), (site, 1)))
    offered = await loket.until_terms(app_id)
    await loket.caught_up("loket-gateway", APPLICATION_EVENTS)
    with stack.maintenance("workflows") as worker:
        worker.stop()
        away = await loket.http.get(f"/v1/applications/{app_id}/terms")
        text = await loket.http.get(f"/v1/applications/{app_id}/agreement?format=md")
        # What only the workflow knows is "not now", with a reason, not a server error.
        status = await loket.http.get(f"/v1/applications/{app_id}")
        stack.restart("workflows")
    assert away.status_code == 200, away.text
    assert away.json() == offered
    assert text.status_code == 200, text.text
    assert text.headers["X-Content-SHA256-Of-Text"] == offered["sha256"]
    # Temporal refuses the query at once once no worker has polled for a while, or lets it
    # wait until the deadline before that: either way a problem that says "retry".
    assert status.status_code in (503, 504), status.text
    assert status.headers["content-type"] == "application/problem+json"
    assert status.json()["type"].rsplit("/", 1)[1] in (
        "workflows-unavailable",
        "temporal-unavailable",
    )
    accepted = await loket.http.post(
        f"/v1/applications/{app_id}/accept", json={"terms_sha256": away.json()["sha256"]}
    )
    assert accepted.status_code == 200, accepted.text
    assert (await loket.wait_stage(app_id, {"voucher_issued", "failed"}))["stage"] == (
        "voucher_issued"
    )
