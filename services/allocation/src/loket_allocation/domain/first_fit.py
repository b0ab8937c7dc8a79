"""Online (first-come) allocation: choose one slot per need, all-or-nothing, transnationally.

Pure: candidates in, choices or a reason out. The adapter applies the choice atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from loket_contracts.messages import Need

TNA_PRACTICE = "Horizon Europe transnational access practice: sites outside the user's country"


@dataclass(frozen=True)
class Candidate:
    facility_id: str
    facility_name: str
    site: str
    country: str
    kind: str
    offering_id: str
    service_type: str
    unit: str
    market_price_eur: Decimal
    access_modes: tuple[str, ...]
    slot_id: str
    start: datetime
    end: datetime
    free_units: int


@dataclass(frozen=True)
class Choice:
    need_index: int
    candidate: Candidate
    units: int


@dataclass(frozen=True)
class Allocation:
    choices: list[Choice]
    reason: str


@dataclass(frozen=True)
class NoAllocation:
    reason: str


def fits(need: Need, c: Candidate, workplace_country: str, taken: int) -> bool:
    return (
        c.service_type == need.service_type
        and need.access_mode in c.access_modes
        and c.country != workplace_country
        and c.start >= need.earliest_start
        and c.end <= need.latest_end
        and c.free_units - taken >= need.units
    )


def first_fit(
    needs: list[Need], candidates: list[Candidate], workplace_country: str
) -> Allocation | NoAllocation:
    """Earliest slot first, then the lowest market price; prefer sites already in the bundle."""
    taken: dict[tuple[str, str], int] = {}
    choices: list[Choice] = []
    for index, need in enumerate(needs):
        chosen_sites = {c.candidate.facility_id for c in choices}
        fitting = [
            c
            for c in candidates
            if fits(need, c, workplace_country, taken.get((c.facility_id, c.slot_id), 0))
        ]
        if not fitting:
            return NoAllocation(_why_not(need, candidates, workplace_country))
        best = min(
            fitting,
            key=lambda c: (c.facility_id not in chosen_sites, c.start, c.market_price_eur),
        )
        key = (best.facility_id, best.slot_id)
        taken[key] = taken.get(key, 0) + need.units
        choices.append(Choice(index, best, need.units))
    sites = sorted({f"{c.candidate.site} ({c.candidate.country})" for c in choices})
    return Allocation(
        choices,
        reason=f"first fit: earliest free slots outside {workplace_country} at {', '.join(sites)}",
    )


def _why_not(need: Need, candidates: list[Candidate], workplace_country: str) -> str:
    of_type = [c for c in candidates if c.service_type == need.service_type]
    if not of_type:
        return f"no facility offers {need.service_type}"
    abroad = [c for c in of_type if c.country != workplace_country]
    if not abroad:
        return (
            f"{need.service_type} is only offered in {workplace_country}, the applicant's own "
            f"country ({TNA_PRACTICE})"
        )
    in_window = [c for c in abroad if c.start >= need.earliest_start and c.end <= need.latest_end]
    if not in_window:
        return (
            f"no {need.service_type} slot abroad between {need.earliest_start:%Y-%m-%d} and "
            f"{need.latest_end:%Y-%m-%d}"
        )
    return (
        f"no {need.service_type} slot abroad has {need.units} free {in_window[0].unit}(s) "
        "in the requested window"
    )
