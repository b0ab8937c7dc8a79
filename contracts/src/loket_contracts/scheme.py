"""Versioned scheme configuration: every threshold as data with its legal source.

`load_scheme("pilot-2026")` reads `schemes/pilot-2026.toml` shipped in this package (or the file
named by LOKET_SCHEME_FILE), validates it strictly and fails loudly with every problem found.
Services call it at start, so a bad configuration stops the service before it decides anything.
"""

from __future__ import annotations

import itertools
import os
import tomllib
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from loket_contracts.scheme_sections import Exclusions, Groupings, InvestorExceptions
from loket_contracts.sourced import Sourced

DEFAULT_VERSION = "pilot-2026"


class SchemeError(ValueError):
    """The scheme configuration is unusable; the message lists every problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SizeClass(_Strict):
    max_staff_awu_exclusive: Sourced[int]
    max_turnover_eur: Sourced[Decimal]
    max_balance_sheet_eur: Sourced[Decimal]


class Ownership(_Strict):
    partner_min_share_pct: Sourced[Decimal]
    linked_above_share_pct: Sourced[Decimal]
    public_body_max_share_pct_exclusive: Sourced[Decimal]
    consecutive_periods_for_change: Sourced[int]

    @model_validator(mode="after")
    def _ordered(self) -> Ownership:
        if not 0 < self.partner_min_share_pct.value < self.linked_above_share_pct.value <= 100:
            raise ValueError("need 0 < partner_min_share_pct < linked_above_share_pct <= 100")
        return self


class Sme(_Strict):
    micro: SizeClass
    small: SizeClass
    medium: SizeClass
    ownership: Ownership
    # pilot-2026-r2 on: investors that leave an enterprise autonomous (Annex Art. 3(2))
    investor_exceptions: InvestorExceptions | None = None

    @model_validator(mode="after")
    def _increasing(self) -> Sme:
        classes = [self.micro, self.small, self.medium]
        for lower, upper in itertools.pairwise(classes):
            if (
                lower.max_staff_awu_exclusive.value >= upper.max_staff_awu_exclusive.value
                or lower.max_turnover_eur.value > upper.max_turnover_eur.value
                or lower.max_balance_sheet_eur.value > upper.max_balance_sheet_eur.value
            ):
                raise ValueError("SME ceilings must grow from micro to small to medium")
        return self


def _country_codes(codes: list[str]) -> list[str]:
    bad = [c for c in codes if len(c) != 2 or not c.isalpha() or not c.isupper()]
    if bad:
        raise ValueError(f"not ISO 3166-1 alpha-2 codes: {bad}")
    return codes


class Countries(_Strict):
    eu27: Sourced[list[str]]
    associated: Sourced[list[str]]
    pillar_two_only: Sourced[list[str]]

    @field_validator("eu27", "associated", "pillar_two_only")
    @classmethod
    def _iso(cls, v: Sourced[list[str]]) -> Sourced[list[str]]:
        _country_codes(v.value)
        return v

    @model_validator(mode="after")
    def _disjoint(self) -> Countries:
        member = set(self.eu27.value)
        if len(member - {"EL"}) != 27:
            raise ValueError(f"eu27 lists {len(member - {'EL'})} member states, not 27")
        overlap = (member & set(self.associated.value)) | (
            set(self.associated.value) & set(self.pillar_two_only.value)
        )
        if overlap:
            raise ValueError(f"a country is listed twice: {sorted(overlap)}")
        return self


class Call(_Strict):
    priority_areas: Sourced[list[str]]
    startup_max_age_years: Sourced[int]
    scaleups_allowed: Sourced[bool]
    difficulty_capital_loss_exempt_below_years: Sourced[int]
    excluded_nace_prefixes: Sourced[list[str]]


class Allocation(_Strict):
    transnational_exempt_legal_forms: Sourced[list[str]]
    hold_days: Sourced[int]


class Lifecycle(_Strict):
    acceptance_days: Sourced[int]
    review_escalation_days: Sourced[int]
    voucher_validity_days: Sourced[int]
    access_report_days: Sourced[int]

    @model_validator(mode="after")
    def _positive(self) -> Lifecycle:
        durations = (
            self.acceptance_days,
            self.review_escalation_days,
            self.voucher_validity_days,
            self.access_report_days,
        )
        if any(d.value < 1 for d in durations):
            raise ValueError("lifecycle durations must be at least one day")
        return self


class StateAid(_Strict):
    de_minimis_ceiling_eur: Sourced[Decimal]
    de_minimis_window_years: Sourced[int]
    gber_art28_full_intensity_cap_eur: Sourced[Decimal]
    gber_art28_window_years: Sourced[int]
    gber_art28_full_intensity: Sourced[Decimal]
    gber_art28_intensity: Sourced[Decimal]
    gber_art28_notification_threshold_eur: Sourced[Decimal]
    transparency_threshold_eur: Sourced[Decimal]
    aid_hold_days: Sourced[int]
    # When a voucher ends with units unused: True records the aid actually used (and gives
    # the rest back to the budget), False keeps the aid granted at issuance on the ledger.
    aid_follows_use: Sourced[bool]
    # pilot-2026-r2 on: the de minimis ceiling is checked again when the aid is granted
    de_minimis_checked_at_grant: Sourced[bool] | None = None

    @model_validator(mode="after")
    def _sane(self) -> StateAid:
        for name in ("gber_art28_full_intensity", "gber_art28_intensity"):
            if not 0 < getattr(self, name).value <= 1:
                raise ValueError(f"{name} must be in (0, 1]")
        for name in (
            "de_minimis_ceiling_eur",
            "gber_art28_full_intensity_cap_eur",
            "transparency_threshold_eur",
        ):
            if getattr(self, name).value <= 0:
                raise ValueError(f"{name} must be positive")
        if self.de_minimis_window_years.value < 1 or self.gber_art28_window_years.value < 1:
            raise ValueError("aid windows must be at least one year")
        return self


class Scheme(_Strict):
    version: str = Field(min_length=1)
    valid_from: date
    sme: Sme
    countries: Countries
    call: Call
    allocation: Allocation
    lifecycle: Lifecycle
    state_aid: StateAid
    budgets: dict[str, dict[str, Sourced[Decimal]]]
    # pilot-2026-r2 on (absent: the rules of pilot-2026, where difficulty refused all aid and
    # every linked enterprise was part of the single undertaking)
    exclusions: Exclusions | None = None
    groupings: Groupings | None = None

    @model_validator(mode="after")
    def _holds_outlive_the_offer(self) -> Scheme:
        if self.allocation.hold_days.value <= self.lifecycle.acceptance_days.value:
            raise ValueError(
                "allocation.hold_days must exceed lifecycle.acceptance_days: a hold "
                "may not expire while the applicant may still accept"
            )
        return self

    @model_validator(mode="after")
    def _budgets(self) -> Scheme:
        areas = set(self.call.priority_areas.value)
        for call_id, per_area in self.budgets.items():
            unknown = set(per_area) - areas
            if unknown:
                raise ValueError(f"budget of {call_id} names unknown areas {sorted(unknown)}")
            if any(b.value <= 0 for b in per_area.values()):
                raise ValueError(f"budget of {call_id} must be positive per area")
        return self

    # convenient views -------------------------------------------------------------------

    def is_member_state(self, country: str) -> bool:
        return country in self.countries.eu27.value

    def is_associated(self, country: str) -> bool:
        return country in self.countries.associated.value

    def may_host_infrastructure(self, country: str) -> bool:
        return self.is_member_state(country) or self.is_associated(country)


def parse_scheme(text: str, origin: str = "<text>") -> Scheme:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SchemeError(f"{origin}: not valid TOML: {exc}") from exc
    try:
        return Scheme.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise SchemeError(f"{origin}: invalid scheme configuration: {problems}") from exc


@cache  # what is packaged does not change while a process runs
def packaged_versions() -> tuple[Scheme, ...]:
    """Every scheme version shipped in this package, oldest first."""
    folder = resources.files("loket_contracts").joinpath("schemes")
    names = [p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")]
    return tuple(sorted((load_scheme(n) for n in names), key=lambda s: s.valid_from))


def scheme_in_force(today: date) -> Scheme:
    """The version a new application is decided under: LOKET_SCHEME (or LOKET_SCHEME_FILE)
    when set, else the packaged version most recently in force on `today`."""
    if os.environ.get("LOKET_SCHEME") or os.environ.get("LOKET_SCHEME_FILE"):
        return load_scheme()
    valid = [s for s in packaged_versions() if s.valid_from <= today]
    if not valid:
        raise SchemeError(f"no scheme version is in force on {today}")
    return valid[-1]


@cache
def load_scheme(version: str | None = None) -> Scheme:
    """The scheme in force: LOKET_SCHEME_FILE if set, else the packaged `<version>.toml`."""
    override = os.environ.get("LOKET_SCHEME_FILE")
    if override:
        path = Path(override)
        return parse_scheme(path.read_text(encoding="utf-8"), str(path))
    name = f"{version or os.environ.get('LOKET_SCHEME', DEFAULT_VERSION)}.toml"
    source = resources.files("loket_contracts").joinpath("schemes", name)
    if not source.is_file():
        raise SchemeError(f"no scheme configuration {name} in loket_contracts/schemes")
    scheme = parse_scheme(source.read_text(encoding="utf-8"), name)
    if scheme.version != name.removesuffix(".toml"):
        raise SchemeError(f"{name} declares version {scheme.version!r}")
    return scheme
