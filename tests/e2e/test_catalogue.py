"""The single access point: free capacity across facilities, and utilisation for managers."""

from __future__ import annotations

from .conftest import Loket


async def test_catalogue_shows_free_capacity_and_utilisation_shows_the_booking(
    loket: Loket,
) -> None:
    site = await loket.facility("NL", kind="TI", units=5, price=2000)
    resp = await loket.http.get("/v1/catalogue", params={"service_type": site.service_type})
    assert resp.status_code == 200, resp.text
    [slot] = resp.json()["slots"]
    assert (slot["facility_id"], slot["country"], slot["kind"]) == (site.facility_id, "NL", "TI")
    assert (slot["capacity_units"], slot["free_units"]) == (5, 5)
    assert (
        await loket.http.get(
            "/v1/catalogue", params={"service_type": site.service_type, "country": "DE"}
        )
    ).json()["slots"] == []

    app_id = await loket.submit(loket.application(loket.applicant("BG"), (site, 3)))
    terms = await loket.until_terms(app_id)
    held = (
        await loket.http.get("/v1/catalogue", params={"service_type": site.service_type})
    ).json()
    assert held["slots"][0]["free_units"] == 2  # the hold takes units off the market
    await loket.http.post(
        f"/v1/applications/{app_id}/accept", json={"terms_sha256": terms["sha256"]}
    )
    assert (await loket.wait_stage(app_id, {"voucher_issued", "failed"}))["stage"] == (
        "voucher_issued"
    )

    report = (await loket.http.get("/v1/utilisation")).json()
    mine = next(f for f in report["facilities"] if f["key"] == site.facility_id)
    assert (mine["published_units"], mine["booked_units"], mine["held_units"]) == (5, 3, 0)
    assert mine["utilisation"] == "0.6000"
    [flow] = [
        f
        for f in report["flows"]
        if f["applicant_country"] == "BG" and f["facility_country"] == "NL"
    ]
    assert (flow["bookings"], flow["units"]) == (1, 3)  # one application, three units

    # Delivered in full, the booking is completed: it still counts as a flow.
    await loket.deliver(site, app_id, units=3, sequence=3)
    assert (await loket.wait_stage(app_id, {"report_due", "closed", "failed"}))["stage"] != "failed"
    report = (await loket.http.get("/v1/utilisation")).json()
    assert [
        (f["bookings"], f["units"])
        for f in report["flows"]
        if f["applicant_country"] == "BG" and f["facility_country"] == "NL"
    ] == [(1, 3)]


async def test_catalogue_rejects_a_bad_country_filter(loket: Loket) -> None:
    resp = await loket.http.get("/v1/catalogue", params={"country": "france"})
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"


async def test_catalogue_reads_a_time_without_an_offset_as_utc(loket: Loket) -> None:
    """`from`/`to` without an offset are UTC; before, the allocation service could not compare
    them with its stored times, and the query went unanswered."""
    site = await loket.facility("NL")
    naive = {"service_type": site.service_type, "from": "2027-05-03T07:00:00"}
    resp = await loket.http.get("/v1/catalogue", params=naive)
    assert resp.status_code == 200, resp.text
    assert [s["facility_id"] for s in resp.json()["slots"]] == [site.facility_id]
    later = {"service_type": site.service_type, "from": "2027-05-03T09:00:00"}
    assert (await loket.http.get("/v1/catalogue", params=later)).json()["slots"] == []


async def test_catalogue_refuses_a_time_out_of_range(loket: Loket) -> None:
    resp = await loket.http.get("/v1/catalogue", params={"to": "9999-01-01T00:00:00Z"})
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"
