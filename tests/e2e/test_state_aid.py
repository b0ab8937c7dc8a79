"""State aid as an applicant and a programme manager see it through HTTP."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from .conftest import Loket


def declared(amount: int, instrument: str = "de_minimis") -> dict[str, str]:
    return {"granted_on": "2025-03-01", "amount_eur": str(amount), "instrument": instrument}


async def accept_and_issue(loket: Loket, app_id: str) -> dict[str, Any]:
    terms = await loket.until_terms(app_id)
    resp = await loket.http.post(
        f"/v1/applications/{app_id}/accept", json={"terms_sha256": terms["sha256"]}
    )
    assert resp.status_code == 200, resp.text
    return await loket.wait_stage(app_id, {"voucher_issued", "failed"})


async def test_gber_art28_voucher_when_de_minimis_is_used_up_and_visible_to_managers(
    loket: Loket,
) -> None:
    site = await loket.facility("FR", price=60_000, unit="day", units=4)
    applicant = loket.applicant("PT", declared_prior_aid=[declared(300_000)])
    app_id = await loket.submit(loket.application(applicant, (site, 2)))
    status = await accept_and_issue(loket, app_id)
    assert status["stage"] == "voucher_issued"
    aid = status["aid"]
    assert (aid["instrument"], Decimal(aid["intensity"])) == ("gber_art28", Decimal(1))
    assert Decimal(aid["voucher_eur"]) == Decimal(120_000)

    uid = applicant["undertaking_id"]
    headroom = await loket.http.get(f"/v1/undertakings/{uid}/headroom", params={"step_days": 7})
    assert headroom.status_code == 200, headroom.text
    today = headroom.json()["points"][0]
    assert Decimal(today["de_minimis_headroom_eur"]) == 0
    assert Decimal(today["art28_used_eur"]) == Decimal(120_000)

    budget = await loket.http.get("/v1/calls/LOKET-2026-01/budget")
    area = next(a for a in budget.json()["areas"] if a["priority_area"] == "advanced-materials")
    assert Decimal(area["granted_eur"]) >= Decimal(120_000)
    assert Decimal(area["available_eur"]) == (
        Decimal(area["total_eur"]) - Decimal(area["reserved_eur"]) - Decimal(area["granted_eur"])
    )

    # GBER Art. 9: awards over €100,000 are listed for publication.
    export = await loket.http.get("/v1/registers/gber_transparency", params={"format": "csv"})
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    mine = [r for r in rows if r["application_id"] == app_id]
    assert mine and Decimal(mine[0]["aid_eur"]) == Decimal(120_000)
    assert mine[0]["voucher_id"] == status["voucher_id"]


async def test_art28_cap_used_up_gives_50_percent_and_a_stated_co_payment(loket: Loket) -> None:
    site = await loket.facility("DE", price=5_000)
    applicant = loket.applicant(
        "AT", declared_prior_aid=[declared(299_000), declared(219_000, "gber_art28")]
    )
    app_id = await loket.submit(loket.application(applicant, (site, 4)))
    terms = await loket.until_terms(app_id)
    status = (await loket.http.get(f"/v1/applications/{app_id}")).json()
    assert Decimal(status["aid"]["intensity"]) == Decimal("0.5")
    assert Decimal(status["aid"]["voucher_eur"]) == Decimal(10_000)
    assert Decimal(status["aid"]["co_payment_eur"]) == Decimal(10_000)
    assert "Paid by the User to the Facilities (co-payment): EUR 10,000.00" in terms["text"]


async def test_undecidable_difficulty_declaration_goes_to_a_manager(loket: Loket) -> None:
    site = await loket.facility("SE")
    applicant = loket.applicant("DK", difficulty={"more_than_half_capital_lost": None})
    app_id = await loket.submit(loket.application(applicant, (site, 1)))
    status = await loket.wait_stage(app_id, {"manual_review", "ineligible", "awaiting_acceptance"})
    assert status["stage"] == "manual_review"
    review = [r for r in status["eligibility"] if r["needs_review"]]
    assert [r["rule_id"] for r in review] == ["difficulty.capital_loss"]

    decision = {"approve": True, "reason": "2025 accounts show equity above half the capital"}
    owner = loket.stack.identity.applicant(applicant["undertaking_id"])
    own_review = await loket.http.post(
        f"/v1/applications/{app_id}/review",
        json=decision,
        headers={"Authorization": f"Bearer {owner}"},
    )
    assert own_review.status_code == 403  # the applicant cannot approve itself
    assert own_review.json()["type"].endswith("/forbidden")
    approved = await loket.http.post(f"/v1/applications/{app_id}/review", json=decision)
    assert approved.status_code == 200, approved.text  # as the programme manager
    terms = await loket.until_terms(app_id)  # the application goes on to allocation and terms
    assert terms["sha256"]
    status = (await loket.http.get(f"/v1/applications/{app_id}")).json()
    assert status["reasons"][0].startswith("approved by programme manager Mina Manager")
    [review] = [d for d in status["decisions"] if d["decision"] == "review"]
    assert review["actor"]["name"] == "Mina Manager" and "manager" in review["actor"]["roles"]


async def test_unknown_call_budget_is_a_404_problem(loket: Loket) -> None:
    resp = await loket.http.get("/v1/calls/NO-SUCH-CALL/budget")
    assert resp.status_code == 404
    assert resp.json()["type"].endswith("/call-not-found")
