"""Eligibility: the command and its decision."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from loket_contracts.bounds import Id
from loket_contracts.capacity import PriorityArea
from loket_contracts.messages.shared import Applicant, RuleOutcome, SchemeVersion

# ---- eligibility ---------------------------------------------------------------------------

ELIGIBILITY_REQUESTED = "eu.loket.eligibility.requested.v1"
ELIGIBILITY_DECIDED = "eu.loket.eligibility.decided.v1"


class EligibilityRequested(BaseModel):
    application_id: Id
    applicant: Applicant
    priority_area: PriorityArea
    as_of: date
    scheme_version: SchemeVersion | None = None  # None: pilot-2026, the first version


class EligibilityDecided(BaseModel):
    application_id: Id
    outcome: Literal["eligible", "ineligible", "manual_review"]
    sme_category: Literal["micro", "small", "medium", "large"]
    scheme_version: str
    rules: list[RuleOutcome]
    # From pilot-2026-r2: instruments the applicant may not get (GBER when in difficulty) and
    # the single undertaking for de minimis (None: every linked enterprise, as before).
    excluded_instruments: list[Literal["gber_art28"]] = Field(default_factory=list, max_length=1)
    single_undertaking: list[Id] | None = Field(default=None, max_length=100)

    @property
    def failed_reasons(self) -> list[str]:
        return [r.reason for r in self.rules if not r.passed or r.needs_review]
