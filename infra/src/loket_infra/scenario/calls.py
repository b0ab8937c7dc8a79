"""The demo's batch call and the request bodies the applicants submit."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from loket_infra.scenario.cases import Case, applicant
from loket_infra.scenario.facilities import START

# A batch call: its applications wait for the cut-off, then one round serves as many as the
# pilot line's six days allow: the three asking for two days; the one asking for three is
# refused with the round's reason (serving it would leave room for one other only).
BATCH_CALL = "LOKET-2027-B1"
BATCH_CUT_OFF_S = 45
BATCH_CASES: list[Case] = [
    Case(
        f"Batch call, {days} days from {country}: {'served' if days == 2 else 'not served'}",
        "voucher_issued" if days == 2 else "unallocatable",
        applicant(name, country),
        "clean-energy",
        [("pilotline.perovskite-coating", days)],
        call=BATCH_CALL,
    )
    for name, country, days in (
        ("Lisbon Solar Inks", "PT", 2),
        ("Tallinn Tandem Cells", "EE", 2),
        ("Bratislava PV Labs", "SK", 2),
        ("Ghent Big Coaters", "BE", 3),
    )
]


def batch_call_body(now: datetime) -> dict[str, Any]:
    return {
        "call_id": BATCH_CALL,
        "title": "Perovskite pilot lines 2027, batch round",
        "mode": "batch",
        "opens_at": (now - timedelta(minutes=1)).isoformat(),
        "closes_at": (now + timedelta(seconds=BATCH_CUT_OFF_S)).isoformat(),
        "budgets": {"clean-energy": "250000.00"},
    }


def request_body(case: Case) -> dict[str, Any]:
    return {
        **({"call_id": case.call} if case.call else {}),
        "applicant": case.applicant,
        "priority_area": case.area,
        "needs": [
            {
                "service_type": stype,
                "units": units,
                "earliest_start": START.isoformat(),
                "latest_end": (START + timedelta(days=120)).isoformat(),
                "access_mode": "remote" if "Remote" in case.label else "physical",
            }
            for stype, units in case.needs
        ],
        "applicant_payment_eur": str(case.payment_eur),
        "language": case.language,
    }
