"""The demo's facilities across Europe: profiles, slots and the terms each adds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
