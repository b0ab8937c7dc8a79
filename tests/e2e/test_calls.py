"""Calls on the real platform: a manager opens a batch call; its applications wait for the
cut-off; the call's Temporal schedule runs the allocation round; each application gets its
offer or a reasoned refusal; the programme reads the round's bound, gap and fairness. Every
change is a version and an audit entry; only managers change calls."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from .conftest import PATIENCE_S, TERMINAL, Loket

PROBLEM = "application/problem+json"


def batch_call(call_id: str, closes_in: timedelta, mode: str = "batch") -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "call_id": call_id,
        "title": f"Test call {call_id}",
        "mode": mode,
        "opens_at": (now - timedelta(minutes=1)).isoformat(),
        "closes_at": (now + closes_in).isoformat(),
        "budgets": {"advanced-materials": "200000.00"},
    }


async def round_solved(loket: Loket, call_id: str) -> dict[str, Any]:
    end = time.monotonic() + PATIENCE_S
    while True:
        resp = await loket.http.get(f"/v1/calls/{call_id}/round")
        assert resp.status_code == 200, resp.text
        found: dict[str, Any] = resp.json()
        if found["state"] == "solved":
            return found
        assert found["state"] in ("scheduled", "running"), found
        assert time.monotonic() < end, f"the round of {call_id} never ran: {found}"
        await asyncio.sleep(0.3)


async def test_a_batch_call_waits_for_its_round_then_offers_or_refuses(loket: Loket) -> None:
    call_id = f"B-{uuid.uuid4().hex[:10]}"
    opened = await loket.http.post("/v1/calls", json=batch_call(call_id, timedelta(hours=1)))
    assert opened.status_code == 201, opened.text
    assert opened.json()["version"] == 1 and opened.headers["location"] == f"/v1/calls/{call_id}"
    scheduled = (await loket.http.get(f"/v1/calls/{call_id}/round")).json()
    assert scheduled["state"] == "scheduled"

    site = await loket.facility("DE", units=4)  # room for two of the three
    apps = []
    for country in ("AT", "FR", "NL"):
        body = loket.application(loket.applicant(country), (site, 2)) | {"call_id": call_id}
        apps.append(await loket.submit(body))
    for app_id in apps:  # eligible, then queued: nothing is held before the cut-off
        status = await loket.wait_stage(app_id, TERMINAL | {"awaiting_round"})
        assert status["stage"] == "awaiting_round", status

    # The cut-off moves closer: the schedule follows the amendment.
    cut_off = datetime.now(UTC) + timedelta(seconds=8)
    amended = await loket.http.patch(
        f"/v1/calls/{call_id}",
        json={"version": 1, "reason": "cut-off brought forward", "closes_at": cut_off.isoformat()},
    )
    assert amended.status_code == 200, amended.text
    assert amended.json()["version"] == 2

    solved = await round_solved(loket, call_id)
    assert (solved["served"], solved["unserved"]) == (2, 1)
    assert solved["lp_bound"] >= solved["objective"] > 0 and 0 <= solved["gap"] < 1
    assert solved["requested_by_country"] == {"AT": 1, "FR": 1, "NL": 1}
    assert sum(solved["served_by_country"].values()) == 2

    ends = [await loket.wait_stage(a, TERMINAL | {"awaiting_acceptance"}) for a in apps]
    offered = [s for s in ends if s["stage"] == "awaiting_acceptance"]
    refused = [s for s in ends if s["stage"] == "unallocatable"]
    assert len(offered) == 2 and len(refused) == 1, [s["stage"] for s in ends]
    assert "not served in batch round" in refused[0]["reasons"][0]
    # The offers' aid came out of this call's budget, which vouchers learnt from the call.
    budget = (await loket.http.get(f"/v1/calls/{call_id}/budget")).json()
    [area] = budget["areas"]
    assert area["total_eur"] == "200000.00" and float(area["reserved_eur"]) > 0

    late = loket.application(loket.applicant("AT"), (site, 1)) | {"call_id": call_id}
    resp = await loket.http.post("/v1/applications", json=late)
    assert resp.status_code == 422 and resp.headers["content-type"] == PROBLEM
    assert resp.json()["type"].endswith("call-not-open") and "closed" in resp.json()["detail"]

    # Committed money stays: a budget cannot drop below it.
    cut = await loket.http.patch(
        f"/v1/calls/{call_id}",
        json={"version": 2, "reason": "cut", "budgets": {"advanced-materials": "1.00"}},
    )
    assert cut.status_code == 409 and cut.json()["type"].endswith("budget-below-committed")

    history = (await loket.http.get(f"/v1/calls/{call_id}/versions")).json()["versions"]
    assert [v["version"] for v in history] == [1, 2]
    assert history[1]["reason"] == "cut-off brought forward"
    trail = (await loket.http.get("/v1/audit", params={"action": "amend_call"})).json()
    assert any(e["path"] == f"/v1/calls/{call_id}" and e["status"] == 200 for e in trail["items"])


async def test_closing_a_batch_call_early_runs_its_round_now(loket: Loket) -> None:
    call_id = f"B-{uuid.uuid4().hex[:10]}"
    resp = await loket.http.post("/v1/calls", json=batch_call(call_id, timedelta(days=30)))
    assert resp.status_code == 201, resp.text
    stale = await loket.http.post(f"/v1/calls/{call_id}/close", json={"version": 7, "reason": "x"})
    assert stale.status_code == 409 and stale.json()["type"].endswith("stale-version")
    closed = await loket.http.post(
        f"/v1/calls/{call_id}/close", json={"version": 1, "reason": "budget withdrawn"}
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    solved = await round_solved(loket, call_id)
    assert (solved["served"], solved["unserved"], solved["status"]) == (0, 0, "no applications")
    again = await loket.http.post(
        f"/v1/calls/{call_id}/close", json={"version": 2, "reason": "twice"}
    )
    assert again.status_code == 409 and again.json()["type"].endswith("call-closed")


async def test_only_managers_change_calls(loket: Loket) -> None:
    identity = loket.stack.identity
    applicant = {"Authorization": f"Bearer {identity.applicant(f'AT-{uuid.uuid4().hex[:6]}')}"}
    auditor = {"Authorization": f"Bearer {identity.role('auditor')}"}
    body = batch_call(f"O-{uuid.uuid4().hex[:10]}", timedelta(days=1), mode="online")
    for who in (applicant, auditor):
        refused = await loket.http.post("/v1/calls", json=body, headers=who)
        assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    listed = await loket.http.get("/v1/calls", headers=applicant)  # anyone signed in reads them
    assert listed.status_code == 200
    assert "LOKET-2026-01" in {c["call_id"] for c in listed.json()["calls"]}  # from the scheme
    async with httpx.AsyncClient(base_url=loket.stack.gateway_url, timeout=60) as stranger:
        assert (await stranger.get("/v1/calls")).status_code == 401
    bad = await loket.http.post("/v1/calls", json=body | {"budgets": {"ai": "NaN"}})
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM
    assert (await loket.http.post("/v1/calls", json=body)).status_code == 201
    twice = await loket.http.post("/v1/calls", json=body)
    assert twice.status_code == 409 and twice.json()["type"].endswith("call-exists")
