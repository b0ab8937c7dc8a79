"""Allocation's plain data: what can be booked and what was chosen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from loket_contracts.messages import Need

TNA_PRACTICE = "Horizon Europe transnational access practice: sites outside the user's country"


@dataclass(frozen=True)
class Candidate:
    """A slot with free units, with what the applicant needs to know about its facility."""

    facility_id: str
    facility_name: str
    site: str
    country: str
    kind: str
    legal_form: str | None
    offering_id: str
    service_type: str
    unit: str
    market_price_eur: Decimal
    access_modes: tuple[str, ...]
    slot_id: str
    start: datetime
    end: datetime
    free_units: int

    @property
    def key(self) -> tuple[str, str]:
        return (self.facility_id, self.slot_id)


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


def transnational(c: Candidate, workplace_country: str, exempt_forms: frozenset[str]) -> bool:
    """Every site abroad, unless the facility's legal form is exempt (ERIC, international org)."""
    return c.country != workplace_country or (c.legal_form in exempt_forms)


def fits(
    need: Need, c: Candidate, workplace_country: str, exempt_forms: frozenset[str], taken: int = 0
) -> bool:
    return (
        c.service_type == need.service_type
        and need.access_mode in c.access_modes
        and transnational(c, workplace_country, exempt_forms)
        and c.start >= need.earliest_start
        and c.end <= need.latest_end
        and c.free_units - taken >= need.units
    )


def why_not(
    need: Need, candidates: list[Candidate], workplace_country: str, exempt_forms: frozenset[str]
) -> str:
    of_type = [c for c in candidates if c.service_type == need.service_type]
    if not of_type:
        return f"no facility offers {need.service_type}"
    abroad = [c for c in of_type if transnational(c, workplace_country, exempt_forms)]
    if not abroad:
        return (
            f"{need.service_type} is only offered in {workplace_country}, the applicant's "
            f"own country ({TNA_PRACTICE})"
        )
    mode = [c for c in abroad if need.access_mode in c.access_modes]
    if not mode:
        return f"no facility abroad offers {need.service_type} with {need.access_mode} access"
    in_window = [c for c in mode if c.start >= need.earliest_start and c.end <= need.latest_end]
    if not in_window:
        return (
            f"no {need.service_type} slot abroad between {need.earliest_start:%Y-%m-%d} "
            f"and {need.latest_end:%Y-%m-%d}"
        )
    return (
        f"no {need.service_type} slot abroad has {need.units} free {in_window[0].unit}(s) "
        "in the requested window"
    )
