"""Bad input gets a clear RFC 9457 problem; retries with an Idempotency-Key are safe."""

from __future__ import annotations

import uuid

from .conftest import Loket


async def test_invalid_application_is_a_422_problem(loket: Loket) -> None:
    resp = await loket.http.post("/v1/applications", json={"priority_area": "ai", "needs": []})
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"
    problem = resp.json()
    assert problem["status"] == 422 and problem["type"].endswith("/validation-error")
    locations = {e["location"] for e in problem["errors"]}
    assert "body.applicant" in locations and "body.needs" in locations


async def test_unknown_application_is_a_404_problem(loket: Loket) -> None:
    resp = await loket.http.get("/v1/applications/app-does-not-exist")
    assert resp.status_code == 404
    assert resp.json()["type"].endswith("/application-not-found")


async def test_idempotency_key_returns_the_same_application(loket: Loket) -> None:
    site = await loket.facility("ES")
    body = loket.application(loket.applicant("PT"), (site, 1))
    key = str(uuid.uuid4())
    first = await loket.submit(body, key)
    assert await loket.submit(body, key) == first
    other = dict(body, priority_area="ai")
    reused = await loket.http.post("/v1/applications", json=other, headers={"Idempotency-Key": key})
    assert reused.status_code == 422
    assert reused.json()["type"].endswith("/idempotency-key-reused")


async def test_facility_endpoint_rejects_a_slot_that_ends_before_it_starts(loket: Loket) -> None:
    resp = await loket.http.post(
        "/v1/facilities/fac-1/slots",
        json={
            "facility_id": "fac-1",
            "sequence": 1,
            "slot_id": "s1",
            "offering_id": "o1",
            "start": "2027-05-02T00:00:00Z",
            "end": "2027-05-01T00:00:00Z",
            "capacity_units": 2,
        },
    )
    assert resp.status_code == 422
    assert "end must be after start" in resp.json()["detail"]
