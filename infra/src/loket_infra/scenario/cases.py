"""The demo's applicants: a realistic mix, each saying what the platform should make of it
(`expect`), so the demo checks the outcome instead of just printing it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any


@dataclass
class Case:
    label: str
    expect: str  # the terminal stage the platform should reach
    applicant: dict[str, Any]
    area: str
    needs: list[tuple[str, int]]  # (service_type, units)
    action: str = "accept"  # accept | decline | silent
    payment_eur: int = 0
    instrument: str | None = None  # the state-aid instrument the voucher should use
    language: str = "en"  # of the agreement
    review: str | None = None  # what the programme manager decides in manual review
    # After issuance: "deliver" everything and report | "partial" delivery, the voucher
    # expires, then report | "unused" until expiry | "overdue": deliver, never report |
    # "cancel": a programme manager cancels after a first delivery
    after: str = "deliver"
    extra: dict[str, Any] = field(default_factory=dict)
    call: str | None = None  # None: the scheme's online call

    @property
    def final(self) -> str:
        """The stage the application ends in."""
        if self.expect != "voucher_issued":
            return self.expect
        return "cancelled" if self.after == "cancel" else "closed"


def applicant(
    name: str,
    country: str,
    *,
    staff: float = 12,
    turnover: int = 1_500_000,
    balance: int = 1_200_000,
    registered: date = date(2023, 4, 1),
    nace: str = "C26.1",
    workplace: str | None = None,
    **more: Any,
) -> dict[str, Any]:
    digest = hashlib.sha256(name.encode()).hexdigest()[:9].upper()
    return {
        "undertaking_id": f"{country}-{digest}",
        "name": name,
        "country": country,
        "workplace_country": workplace or country,
        "registered_on": registered.isoformat(),
        "staff_awu": staff,
        "turnover_eur": str(turnover),
        "balance_sheet_eur": str(balance),
        "nace_code": nace,
        **more,
    }


def _prior(amount: int, days_ago: int, instrument: str = "de_minimis") -> list[dict[str, Any]]:
    granted_on = (date.today() - timedelta(days=days_ago)).isoformat()
    return [{"granted_on": granted_on, "amount_eur": str(amount), "instrument": instrument}]


CASES: list[Case] = [
    Case(
        "Photonic start-up, X-ray imaging",
        "voucher_issued",
        applicant("Lumina Photonics", "PT"),
        "advanced-materials",
        [("beamtime.xray-imaging", 3)],
    ),
    Case(
        "Quantum chip start-up: RI+TI bundle in two countries, agreement in German",
        "voucher_issued",
        applicant("Qubitron", "AT", staff=8, turnover=400_000, balance=900_000),
        "quantum",
        [("cleanroom.lithography", 20), ("beamtime.xray-diffraction", 2)],
        language="de",
    ),
    Case(
        "Battery scale-up",
        "voucher_issued",
        applicant(
            "VoltCell",
            "PL",
            staff=140,
            turnover=22_000_000,
            balance=18_000_000,
            registered=date(2015, 6, 1),
        ),
        "clean-energy",
        [("testbed.battery", 3), ("beamtime.xray-diffraction", 2)],
    ),
    Case(
        "Biotech start-up, neutrons",
        "voucher_issued",
        applicant("Enzymatica", "DK"),
        "health-biotech",
        [("beamtime.neutron-scattering", 2)],
        language="nl",
        after="partial",
    ),
    Case(
        "AI hardware start-up, lithography + MEMS",
        "voucher_issued",
        applicant("Neuromorph", "CZ", staff=25, turnover=3_000_000),
        "ai",
        [("cleanroom.lithography", 16), ("pilotline.mems", 2)],
    ),
    Case(
        "Materials start-up, co-pays part",
        "voucher_issued",
        applicant("Graphenix", "EE"),
        "advanced-materials",
        [("beamtime.xray-imaging", 2)],
        payment_eur=2000,
    ),
    Case(
        "Norwegian start-up (associated country)",
        "voucher_issued",
        applicant("Fjord Materials", "NO"),
        "advanced-materials",
        [("beamtime.xray-diffraction", 2)],
        after="cancel",
    ),
    Case(
        "Greek start-up, code EL",
        "voucher_issued",
        applicant("Aegean Bio", "EL"),
        "health-biotech",
        [("beamtime.xray-imaging", 2)],
        language="fr",
    ),
    Case(
        "Quantum start-up, deposition abroad",
        "voucher_issued",
        applicant("Coherent Nordic", "SE"),
        "quantum",
        [("cleanroom.deposition", 24)],
        after="overdue",
    ),
    Case(
        "Remote beamtime for a Slovenian start-up",
        "voucher_issued",
        applicant("Ljubljana Imaging", "SI"),
        "health-biotech",
        [("beamtime.xray-imaging", 1)],
    ),
    Case(
        "Clean-energy start-up",
        "voucher_issued",
        applicant("Solaris Films", "HR"),
        "clean-energy",
        [("beamtime.xray-diffraction", 1)],
        after="unused",
    ),
    Case(
        "Large enterprise",
        "ineligible",
        applicant(
            "MegaChem",
            "DE",
            staff=1200,
            turnover=400_000_000,
            balance=300_000_000,
            registered=date(1990, 1, 1),
        ),
        "advanced-materials",
        [("beamtime.xray-imaging", 2)],
    ),
    Case(
        "Start-up whose linked parent pushes staff past 250",
        "ineligible",
        applicant(
            "Subsidiary Labs",
            "NL",
            staff=40,
            linked_enterprises=[
                {
                    "undertaking_id": "NL-PARENT-1",
                    "name": "Parent Group",
                    "staff_awu": 230,
                    "turnover_eur": "60000000",
                    "balance_sheet_eur": "50000000",
                }
            ],
        ),
        "ai",
        [("cleanroom.lithography", 10)],
    ),
    Case(
        "Applicant established outside the EU and associated countries",
        "ineligible",
        applicant("Boston Qubits", "US"),
        "quantum",
        [("cleanroom.lithography", 10)],
    ),
    Case(
        "Aquaculture company (excluded de minimis sector)",
        "ineligible",
        applicant("Salmon Genomics", "IE", nace="A03.2"),
        "health-biotech",
        [("beamtime.neutron-scattering", 1)],
    ),
    Case(
        "De minimis headroom exhausted by declared prior aid: GBER Art. 28 at 100 %",
        "voucher_issued",
        applicant("Subsidised Sensors", "LT", declared_prior_aid=_prior(295_000, 400)),
        "advanced-materials",
        [("beamtime.xray-imaging", 3)],
        instrument="gber_art28",
    ),
    Case(
        "Aid 3 years ago still in the window: GBER Art. 28",
        "voucher_issued",
        applicant("Window Edge", "LV", declared_prior_aid=_prior(299_000, 3 * 365 - 30)),
        "clean-energy",
        [("beamtime.xray-diffraction", 2)],
        instrument="gber_art28",
    ),
    Case(
        "Art. 28 cap used up too: 50 % voucher with co-payment",
        "voucher_issued",
        applicant(
            "Twice Funded",
            "RO",
            declared_prior_aid=_prior(299_000, 200) + _prior(219_000, 100, "gber_art28"),
        ),
        "ai",
        [("cleanroom.lithography", 12)],
        instrument="gber_art28",
    ),
    Case(
        "Cannot say whether half its capital is lost: a manager checks and approves",
        "voucher_issued",
        applicant(
            "Unsure Accounts",
            "HU",
            registered=date(2019, 5, 1),
            difficulty={"more_than_half_capital_lost": None},
        ),
        "health-biotech",
        [("beamtime.neutron-scattering", 1)],
        review="approve",
    ),
    Case(
        "Cannot say whether rescue aid is outstanding: a manager rejects",
        "ineligible",
        applicant("Rescued Robotics", "SI", difficulty={"rescue_aid_outstanding": None}),
        "ai",
        [("cleanroom.lithography", 4)],
        review="reject",
    ),
    Case(
        "Partner fund holds 40 %: its figures count at 40 %, still small",
        "voucher_issued",
        applicant(
            "Partnered Bio",
            "FI",
            staff=30,
            partner_enterprises=[
                {
                    "undertaking_id": "FI-FUND",
                    "name": "Nordic Fund",
                    "share_pct": "40",
                    "staff_awu": 20,
                    "turnover_eur": "4000000",
                    "balance_sheet_eur": "9000000",
                }
            ],
        ),
        "health-biotech",
        [("beamtime.xray-imaging", 1)],
        instrument="de_minimis",
    ),
    Case(
        "Public bodies hold 30 %: not an SME",
        "ineligible",
        applicant("Municipal Labs", "ES", public_bodies_share_pct="30"),
        "ai",
        [("cleanroom.lithography", 6)],
    ),
    Case(
        "Test bed withdrawn while the terms wait: re-allocated, new agreement accepted",
        "voucher_issued",
        applicant("Moved Along", "LU"),
        "advanced-materials",
        [("testbed.space-vacuum", 2)],
        action="withdraw-then-accept",
    ),
    Case(
        "Declines the terms",
        "declined",
        applicant("Second Thoughts", "BE"),
        "advanced-materials",
        [("beamtime.xray-imaging", 2)],
        action="decline",
    ),
    Case(
        "Declines a two-site bundle",
        "declined",
        applicant("Cautious Quantum", "IT"),
        "quantum",
        [("cleanroom.lithography", 10), ("beamtime.xray-diffraction", 1)],
        action="decline",
    ),
    Case(
        "Never answers: terms expire",
        "expired",
        applicant("Silent Startup", "SK"),
        "ai",
        [("cleanroom.lithography", 8)],
        action="silent",
    ),
    Case(
        "Needs a service offered only at home",
        "unallocatable",
        applicant("Espoo Thin Films", "FI"),
        "quantum",
        [("cleanroom.deposition", 10)],
    ),
    Case(
        "Needs a service nobody offers",
        "unallocatable",
        applicant("Fusion Dreams", "FR"),
        "clean-energy",
        [("tokamak.plasma-time", 1)],
    ),
]
