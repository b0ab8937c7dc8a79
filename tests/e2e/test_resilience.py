"""Crashes mid-flow: nothing lost, nothing held twice."""

from __future__ import annotations

from decimal import Decimal

from loket_infra.stack import EmbeddedStack

from .conftest import Facility, Loket


async def test_kill_9_of_worker_and_services_mid_flow_leaves_nothing_held_twice(
    loket: Loket, stack: EmbeddedStack
) -> None:
    site = await loket.facility("LV", units=4, price=2000)
    applicant = loket.applicant("LT")
    app_id = await loket.submit(loket.application(applicant, (site, 2)))
    # Crash the worker, the allocation and the vouchers service while the saga runs.
    for name in ("workflows", "allocation", "vouchers"):
        stack.restart(name, kill=True)
    terms = await loket.until_terms(
        app_id,
    )
    await loket.http.post(
        f"/v1/applications/{app_id}/accept", json={"terms_sha256": terms["sha256"]}
    )
    stack.restart("workflows", kill=True)  # and again between acceptance and issuance
    status = await loket.wait_stage(app_id, {"voucher_issued", "failed"})
    assert status["stage"] == "voucher_issued", status

    report = (await loket.http.get("/v1/utilisation")).json()
    mine = next(f for f in report["facilities"] if f["key"] == site.facility_id)
    assert (mine["held_units"], mine["booked_units"]) == (0, 2)  # booked once, nothing left held
    # the aid was granted once: the single undertaking's ledger holds exactly 2 × €2,000
    assert await de_minimis_used(loket, applicant["undertaking_id"]) == Decimal(4000)


async def de_minimis_used(loket: Loket, undertaking_id: str) -> Decimal:
    headroom = (await loket.http.get(f"/v1/undertakings/{undertaking_id}/headroom")).json()
    return Decimal(headroom["points"][0]["de_minimis_used_eur"])


async def free_units(loket: Loket, site: Facility) -> int:
    catalogue = await loket.http.get("/v1/catalogue", params={"service_type": site.service_type})
    return int(catalogue.json()["slots"][0]["free_units"])


async def test_worker_killed_while_compensating_a_cancelled_voucher_gives_back_exactly_once(
    loket: Loket, stack: EmbeddedStack
) -> None:
    site = await loket.facility("EE", units=4, price=1500)
    applicant = loket.applicant("FI")
    app_id = await loket.submit(loket.application(applicant, (site, 3)))
    terms = await loket.until_terms(app_id)
    await loket.http.post(
        f"/v1/applications/{app_id}/accept", json={"terms_sha256": terms["sha256"]}
    )
    await loket.wait_stage(app_id, {"voucher_issued"})
    await loket.deliver(site, app_id, units=1, sequence=50)
    await loket.until(app_id, lambda s: s["delivery"]["units_delivered"] >= 1)
    resp = await loket.http.post(f"/v1/applications/{app_id}/cancel", json={"reason": "moved"})
    assert resp.status_code == 200, resp.text
    stack.restart("workflows", kill=True)  # in the middle of closing booking and voucher
    status = await loket.wait_stage(app_id, {"cancelled", "failed"})
    assert status["stage"] == "cancelled", status
    assert await free_units(loket, site) == 3  # the 2 undelivered units, back once
    assert await de_minimis_used(loket, applicant["undertaking_id"]) == Decimal(1500)
    assert Decimal(status["delivery"]["released_eur"]) == Decimal(3000)
