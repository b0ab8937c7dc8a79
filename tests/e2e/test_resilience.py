"""Crashes mid-flow: nothing lost, nothing held twice."""

from __future__ import annotations

from loket_infra.stack import EmbeddedStack

from .conftest import Loket


async def test_kill_9_of_worker_and_services_mid_flow_leaves_nothing_held_twice(
    loket: Loket, stack: EmbeddedStack
) -> None:
    site = await loket.facility("LV", units=4, price=2000)
    app_id = await loket.submit(loket.application(loket.applicant("LT"), (site, 2)))
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
    budget = (await loket.http.get("/v1/calls/LOKET-2026-01/budget")).json()
    assert all(
        a["reserved_eur"] in ("0", "0.00") or float(a["reserved_eur"]) >= 0 for a in budget["areas"]
    )
