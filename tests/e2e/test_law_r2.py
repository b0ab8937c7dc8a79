"""Scheme pilot-2026-r2 through the API (issue 12): de minimis checked again at the grant, and
difficulty that closes GBER but not de minimis."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .conftest import Loket
from .test_state_aid import accept_and_issue, declared


async def test_aid_granted_meanwhile_moves_the_second_voucher_to_art28_with_new_terms(
    loket: Loket,
) -> None:
    """Reg. (EU) 2023/2831 Art. 3(3): two applications of one undertaking are screened into
    de minimis (€150,000 before, €60,000 each); a third declares €50,000 granted since. The
    first issued still fits (€260,000); the second no longer does and gets GBER Art. 28 with
    a new agreement to accept. The de minimis ledger never passes €300,000."""
    site = await loket.facility("FR", price=60_000, units=3)
    applicant = loket.applicant("PT", declared_prior_aid=[declared(150_000)])
    first = await loket.submit(loket.application(applicant, (site, 1)))
    second = await loket.submit(loket.application(applicant, (site, 1)))
    for app_id in (first, second):
        await loket.until_terms(app_id)
        status = (await loket.http.get(f"/v1/applications/{app_id}")).json()
        assert status["aid"]["instrument"] == "de_minimis"
        assert {r["scheme_version"] for r in status["eligibility"]} == {"pilot-2026-r2"}
    since = {
        "granted_on": datetime.now(UTC).date().isoformat(),
        "amount_eur": "50000",
        "instrument": "de_minimis",
    }
    later = dict(applicant, declared_prior_aid=[declared(150_000), since])
    third = await loket.submit(loket.application(later, (site, 1)))
    await loket.until_terms(third)

    issued = await accept_and_issue(loket, first)
    assert (issued["stage"], issued["aid"]["instrument"]) == ("voucher_issued", "de_minimis")

    offered = await loket.until_terms(second)
    resp = await loket.http.post(
        f"/v1/applications/{second}/accept", json={"terms_sha256": offered["sha256"]}
    )
    assert resp.status_code == 200, resp.text

    def new_terms(status: dict[str, Any]) -> bool:
        return status["stage"] == "awaiting_acceptance" and status["terms_sha256"] not in (
            None,
            offered["sha256"],
        )

    status = await loket.until(second, new_terms)
    assert status["aid"]["instrument"] == "gber_art28"
    assert "no longer fits" in status["aid"]["reason"]
    renewed = await accept_and_issue(loket, second)
    assert renewed["stage"] == "voucher_issued" and renewed["aid"]["instrument"] == "gber_art28"

    uid = applicant["undertaking_id"]
    headroom = (await loket.http.get(f"/v1/undertakings/{uid}/headroom")).json()
    assert Decimal(headroom["points"][0]["de_minimis_headroom_eur"]) >= 0


async def test_difficulty_closes_gber_but_a_de_minimis_voucher_is_issued(loket: Loket) -> None:
    """GBER Art. 1(4)(c) excludes GBER aid only; pilot-2026 refused the applicant outright."""
    site = await loket.facility("NL", price=5_000)
    applicant = loket.applicant(
        "IT", registered_on="2015-03-01", difficulty={"more_than_half_capital_lost": True}
    )
    app_id = await loket.submit(loket.application(applicant, (site, 1)))
    status = await accept_and_issue(loket, app_id)
    assert status["stage"] == "voucher_issued" and status["aid"]["instrument"] == "de_minimis"
    said = next(r for r in status["eligibility"] if r["rule_id"] == "difficulty.capital_loss")
    assert "GBER Art. 28 is out" in said["reason"] and said["scheme_version"] == "pilot-2026-r2"
