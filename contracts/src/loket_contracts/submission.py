"""The HTTP API's own bodies for an application: the gateway serves them, clients send and
read them. The workflow's input (`ApplicationInput`) is made from a request by the gateway."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from pydantic import BaseModel, Field, field_validator

from loket_contracts.bounds import CallId, Eur
from loket_contracts.capacity import PriorityArea
from loket_contracts.messages import Applicant, Language, Needs

DEFAULT_CALL = "LOKET-2026-01"


class ApplicationRequest(BaseModel):
    """What a start-up submits: who it is, what it needs, in which call."""

    applicant: Applicant
    priority_area: PriorityArea
    call_id: CallId = DEFAULT_CALL
    needs: Needs = Field(min_length=1, max_length=20)
    applicant_payment_eur: Eur = Decimal(0)
    language: Language = "en"

    @field_validator("applicant")
    @classmethod
    def _registered_in_the_past(cls, applicant: Applicant) -> Applicant:
        if applicant.registered_on > datetime.now(UTC).date():
            raise ValueError("registered_on is in the future")
        return applicant


class ApplicationAccepted(BaseModel):
    application_id: str
    stage: str
    links: dict[str, str]
