"""What an attacker sent to stop Loket, now refused at the door with a problem body, before
anything is written: no phantom listing rows, no burnt Idempotency-Keys, no stuck consumers."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest
from loket_contracts.application import Stage

from .conftest import Loket

PROBLEM = "application/problem+json"


def problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM
    body: dict[str, Any] = resp.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


async def listed(loket: Loket, name: str) -> list[dict[str, Any]]:
    rows = (await loket.http.get("/v1/applications", params={"limit": 500})).json()["items"]
    return [r for r in rows if r["applicant_name"] == name]


def raw(body: str) -> dict[str, Any]:
    return {"content": body.encode(), "headers": {"content-type": "application/json"}}


@pytest.mark.parametrize(
    ("field", "literal"),
    [("staff_awu", "Infinity"), ("staff_awu", "NaN"), ("turnover_eur", "1e308")],
)
async def test_numbers_that_are_not_finite_or_sane_are_refused_and_the_key_stays_free(
    loket: Loket, field: str, literal: str
) -> None:
    site = await loket.facility("SI")
    name = f"Overflow {uuid.uuid4().hex[:6]}"
    body = loket.application(loket.applicant("HR", name=name), (site, 1))
    key = str(uuid.uuid4())
    text = json.dumps(body).replace(f'"{field}": ', f'"{field}": {literal}, "_was": ', 1)
    bad = await loket.http.post(
        "/v1/applications",
        content=text.encode(),
        headers={"Idempotency-Key": key, "content-type": "application/json"},
    )
    assert f"applicant.{field}" in problem(bad, 422)["detail"]
    assert await listed(loket, name) == []  # nothing was written
    app_id = await loket.submit(body, key)  # the same key with a valid body: accepted
    assert app_id.startswith("app-")


async def test_a_3000_character_call_and_an_unknown_call_are_refused(loket: Loket) -> None:
    site = await loket.facility("SK")
    body = loket.application(loket.applicant("CZ"), (site, 1))
    resp = await loket.http.post("/v1/applications", json=dict(body, call_id="C" * 3000))
    assert "call_id" in problem(resp, 422)["detail"]
    resp = await loket.http.post("/v1/applications", json=dict(body, call_id="NO-SUCH-CALL"))
    assert problem(resp, 422)["type"].endswith("/unknown-call")


async def test_a_company_registered_in_the_future_is_refused(loket: Loket) -> None:
    site = await loket.facility("HU")
    body = loket.application(loket.applicant("RO", registered_on="2999-01-01"), (site, 1))
    resp = await loket.http.post("/v1/applications", json=body)
    assert "registered_on" in problem(resp, 422)["detail"]


@pytest.mark.parametrize("size", [2 * 1024 * 1024, 10 * 1024 * 1024])
async def test_a_large_body_is_refused_unread(loket: Loket, size: int) -> None:
    started = time.monotonic()
    resp = await loket.http.post("/v1/applications", **raw('{"x": "' + "a" * size + '"}'))
    assert problem(resp, 413)["type"].endswith("/body-too-large")
    assert time.monotonic() - started < 10  # refused, not parsed for seconds


async def test_a_streamed_body_is_cut_off_at_the_limit(loket: Loket) -> None:
    async def chunks():  # no Content-Length: the limit counts the bytes as they come
        for _ in range(64):
            yield b"a" * 65536

    resp = await loket.http.post(
        "/v1/applications", content=chunks(), headers={"content-type": "application/json"}
    )
    problem(resp, 413)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/v1/facilities/fac-x/deliveries",
            {
                "facility_id": "fac-x",
                "sequence": 18446744073709551616,
                "application_id": "app-1",
                "slot_id": "s",
                "units_delivered": 1,
                "delivered_at": "2027-05-03T08:00:00Z",
            },
        ),
        (
            "/v1/facilities/fac-x/terms",
            {
                "facility_id": "fac-x",
                "sequence": 2**63,
                "safety_rules": "x",
                "sample_handling": "x",
                "local_law_notes": "x",
            },
        ),
        (
            "/v1/facilities/fac-x/profile",
            {
                "facility_id": "fac-x",
                "sequence": 1,
                "name": "N" * 700_000,
                "site": "s",
                "country": "FR",
                "kind": "RI",
                "offerings": [
                    {
                        "offering_id": "o",
                        "service_type": "x.y",
                        "unit": "shift",
                        "market_price_eur": 1,
                        "access_modes": ["physical"],
                    }
                ],
            },
        ),
    ],
    ids=["sequence-2^64", "sequence-2^63", "700KB-name"],
)
async def test_facility_input_beyond_its_bounds_is_refused(
    loket: Loket, path: str, body: dict[str, Any]
) -> None:
    resp = await loket.http.request(
        "PUT" if path.endswith(("terms", "profile")) else "POST", path, json=body
    )
    assert resp.status_code in (413, 422), resp.text
    assert resp.headers["content-type"] == PROBLEM


@pytest.mark.parametrize("price", ["Infinity", "1e308", "0"])
async def test_a_slot_price_that_is_not_a_sane_amount_is_refused(loket: Loket, price: str) -> None:
    offering = (
        '{"offering_id": "o", "service_type": "x.y", "unit": "shift", "market_price_eur": '
        + price
        + ', "access_modes": ["physical"]}'
    )
    text = (
        '{"facility_id": "fac-p", "sequence": 1, "name": "P", "site": "S", "country": "FR", '
        '"kind": "RI", "offerings": [' + offering + "]}"
    )
    resp = await loket.http.put("/v1/facilities/fac-p/profile", **raw(text))
    assert "market_price_eur" in problem(resp, 422)["detail"]


async def test_an_overlong_application_id_is_a_422_not_a_500(loket: Loket) -> None:
    resp = await loket.http.get("/v1/applications/" + "a" * 500)
    problem(resp, 422)


@pytest.mark.parametrize(
    "dates", [{"from": "9999-12-31"}, {"from": "2150-01-01"}, {"to": "1200-01-01"}]
)
async def test_headroom_dates_out_of_range_are_a_422(loket: Loket, dates: dict[str, str]) -> None:
    """`from` alone asks for a year from it: on 9999-12-31 that overflowed into a 500."""
    uid = loket.applicant("AT")["undertaking_id"]
    problem(await loket.http.get(f"/v1/undertakings/{uid}/headroom", params=dates), 422)


async def test_a_stage_filter_longer_than_the_list_of_stages_is_a_422(loket: Loket) -> None:
    """Each stage once is the longest filter that means anything; a URL repeating one a
    thousand times was read in full."""
    every = [str(s) for s in Stage]
    assert (await loket.http.get("/v1/applications", params={"stage": every})).status_code == 200
    resp = await loket.http.get("/v1/applications", params={"stage": [*every, "closed"]})
    assert "stage" in problem(resp, 422)["detail"]
