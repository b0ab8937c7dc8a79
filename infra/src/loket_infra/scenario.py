"""The demo scenario: facilities across Europe and a realistic mix of applicants.

Each application says what the platform should make of it (`expect`), so the demo checks the
outcome instead of just printing it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from loket_contracts.capacity import FacilityProfile, FacilityTerms, Offering, SlotPublished

START = datetime(2027, 3, 1, 8, tzinfo=UTC)

# (facility_id, name, site, country, kind, areas, service_type, unit, price, modes)
FACILITIES: list[tuple[str, str, str, str, str, list[str], str, str, int, list[str]]] = [
    (
        "fr-grenoble-sync",
        "Grenoble Synchrotron ID19",
        "Grenoble",
        "FR",
        "RI",
        ["advanced-materials", "health-biotech"],
        "beamtime.xray-imaging",
        "shift",
        4000,
        ["physical", "remote"],
    ),
    (
        "de-hamburg-petra",
        "PETRA III P07",
        "Hamburg",
        "DE",
        "RI",
        ["advanced-materials", "clean-energy"],
        "beamtime.xray-diffraction",
        "shift",
        3500,
        ["physical", "remote"],
    ),
    (
        "fr-grenoble-neutron",
        "Neutron Source D22",
        "Grenoble",
        "FR",
        "RI",
        ["health-biotech", "advanced-materials"],
        "beamtime.neutron-scattering",
        "shift",
        5000,
        ["physical"],
    ),
    (
        "be-leuven-pilot",
        "Leuven 300mm Pilot Line",
        "Leuven",
        "BE",
        "TI",
        ["ai", "quantum"],
        "cleanroom.lithography",
        "hour",
        900,
        ["physical"],
    ),
    (
        "fi-espoo-micronova",
        "Micronova Cleanroom",
        "Espoo",
        "FI",
        "TI",
        ["quantum", "advanced-materials"],
        "cleanroom.deposition",
        "hour",
        600,
        ["physical"],
    ),
    (
        "fr-grenoble-leti",
        "Grenoble Nano Pilot Line",
        "Grenoble",
        "FR",
        "TI",
        ["ai", "quantum"],
        "cleanroom.lithography",
        "hour",
        950,
        ["physical"],
    ),
    (
        "de-dresden-mems",
        "Dresden MEMS Pilot Line",
        "Dresden",
        "DE",
        "TI",
        ["ai", "advanced-materials"],
        "pilotline.mems",
        "day",
        8000,
        ["physical"],
    ),
    (
        "se-lund-maxiv",
        "MAX IV NanoMAX",
        "Lund",
        "SE",
        "RI",
        ["advanced-materials", "clean-energy"],
        "beamtime.xray-imaging",
        "shift",
        3800,
        ["physical", "remote"],
    ),
    (
        "es-barcelona-alba",
        "ALBA BL04",
        "Cerdanyola",
        "ES",
        "RI",
        ["clean-energy", "advanced-materials"],
        "beamtime.xray-diffraction",
        "shift",
        3000,
        ["physical", "remote"],
    ),
    (
        "ie-cork-tyndall",
        "Tyndall Fab",
        "Cork",
        "IE",
        "TI",
        ["ai", "health-biotech"],
        "cleanroom.lithography",
        "hour",
        700,
        ["physical"],
    ),
    (
        "ch-villigen-sinq",
        "SINQ Neutron Source",
        "Villigen",
        "CH",
        "RI",
        ["health-biotech"],
        "beamtime.neutron-scattering",
        "shift",
        4500,
        ["physical"],
    ),
    (
        "it-trieste-elettra",
        "Elettra SYRMEP",
        "Trieste",
        "IT",
        "RI",
        ["health-biotech", "advanced-materials"],
        "beamtime.xray-imaging",
        "shift",
        3200,
        ["physical"],
    ),
    (
        "nl-eindhoven-battery",
        "Eindhoven Battery Test Bed",
        "Eindhoven",
        "NL",
        "TI",
        ["clean-energy"],
        "testbed.battery",
        "day",
        5000,
        ["physical", "remote"],
    ),
    # two vacuum test beds in different countries: the demo withdraws one under a hold
    (
        "pl-krakow-vacuum",
        "Krakow Space Vacuum Chamber",
        "Krakow",
        "PL",
        "TI",
        ["advanced-materials"],
        "testbed.space-vacuum",
        "day",
        2500,
        ["physical"],
    ),
    (
        "cz-ondrejov-vacuum",
        "Ondrejov Thermal Vacuum Facility",
        "Ondrejov",
        "CZ",
        "TI",
        ["advanced-materials"],
        "testbed.space-vacuum",
        "day",
        2900,
        ["physical"],
    ),
    (
        "es-valencia-perovskite",
        "Valencia Perovskite Pilot Line",
        "Valencia",
        "ES",
        "TI",
        ["clean-energy"],
        "pilotline.perovskite-coating",
        "day",
        3200,
        ["physical"],
    ),
]
# A scarce pilot line, open through the batch call only: one slot of six days.
SLOTS = {"es-valencia-perovskite": 1}

CAPACITY_BY_UNIT = {"shift": 9, "hour": 60, "day": 6}


ADDENDA = {
    "fr-grenoble-sync": (
        "Dosimeter badge and radiation-safety briefing before the first shift",
        "Samples returned by courier within 30 days or disposed of at cost",
        "French labour law applies to work on site",
    ),
    "be-leuven-pilot": (
        "Cleanroom gowning class ISO 5; induction video before access",
        "Wafers stay on site; data delivered by secure transfer",
        "Belgian export-control licence needed for dual-use designs",
    ),
}


def facility_events() -> list[Any]:
    """Profile plus three slots per facility, with per-facility sequences."""
    events: list[Any] = []
    for n, (fid, name, site, country, kind, areas, stype, unit, price, modes) in enumerate(
        FACILITIES
    ):
        events.append(
            FacilityProfile(
                facility_id=fid,
                sequence=1,
                name=name,
                site=site,
                country=country,
                kind=kind,
                priority_areas=areas,
                offerings=[
                    Offering(
                        offering_id=f"{fid}-o1",
                        service_type=stype,
                        unit=unit,
                        market_price_eur=price,
                        access_modes=modes,
                    )
                ],
            )
        )
        if fid in ADDENDA:
            safety, samples, law = ADDENDA[fid]
            events.append(
                FacilityTerms(
                    facility_id=fid,
                    sequence=10,
                    safety_rules=safety,
                    sample_handling=samples,
                    local_law_notes=law,
                )
            )
        for k in range(SLOTS.get(fid, 3)):
            start = START + timedelta(days=14 * k + n)
            events.append(
                SlotPublished(
                    facility_id=fid,
                    sequence=2 + k,
                    slot_id=f"{fid}-s{k + 1}",
                    offering_id=f"{fid}-o1",
                    start=start,
                    end=start + timedelta(days=5),
                    capacity_units=CAPACITY_BY_UNIT[unit],
                )
            )
    return events


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
