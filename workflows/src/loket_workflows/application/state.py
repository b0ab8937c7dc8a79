"""The application's state in one dataclass, with the behaviour that needs no I/O.

`held` is what the application holds at the services, so what compensation gives back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, TypeVar

from loket_contracts import messages as m
from loket_contracts.application import (
    AidSummary,
    ApplicationInput,
    ApplicationStatus,
    Cancellation,
    ManagerDecision,
    ServiceEvent,
    Stage,
    StageChange,
    Terms,
)
from pydantic import BaseModel

from loket_workflows.application.dto import SendCommand

ModelT = TypeVar("ModelT", bound=BaseModel)


class Held(StrEnum):
    HOLD = "hold"  # slots held by the allocation service
    RESERVATION = "reservation"  # aid headroom and budget reserved by the vouchers service
    BOOKING = "booking"  # the confirmed booking (its undelivered units go back)
    VOUCHER = "voucher"  # the issued voucher (closed with the aid corrected)


class Next(StrEnum):
    """What a step leaves the lifecycle to do."""

    ON = "on"  # the step did its part
    REOFFER = "reoffer"  # capacity under the offer was lost: a new bundle, new terms
    ENDED = "ended"  # a terminal stage was set


class ServiceTimeout(Exception):
    """A service did not answer within the stage's deadline."""


class Cancelled(Exception):
    """A manager or the applicant cancelled while the application waited."""


@dataclass
class ApplicationState:
    inp: ApplicationInput
    status: ApplicationStatus
    inbox: dict[str, list[ServiceEvent]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    held: set[Held] = field(default_factory=set)
    terms: Terms | None = None
    answer: Literal["accept", "decline"] | None = None
    decline_reason: str | None = None
    review: ManagerDecision | None = None
    cancelled: Cancellation | None = None
    offer: int = 0  # re-allocations so far: part of every later command's event id
    rescreens: int = 0  # new agreements after a re-screening at the grant
    notices: int = 0
    outbox: list[SendCommand] = field(default_factory=list)  # sent at the next send or wait
    shown_stage: str | None = None  # the stage last written to the search attributes

    @classmethod
    def submitted(cls, inp: ApplicationInput) -> ApplicationState:
        history = [StageChange(stage=Stage.SUBMITTED, at=inp.submitted_at)]
        status = ApplicationStatus(
            application_id=inp.application_id, stage=Stage.SUBMITTED, history=history
        )
        return cls(inp=inp, status=status)

    @property
    def app_id(self) -> str:
        return self.inp.application_id

    def receive(self, event: ServiceEvent) -> None:
        if event.event_id in self.seen:  # the bridge may redeliver
            return
        self.seen.add(event.event_id)
        self.inbox.setdefault(event.type, []).append(event)

    def has(self, *types: str) -> bool:
        return any(self.inbox.get(t) for t in types)

    def take(self, type_: str) -> ServiceEvent | None:
        waiting = self.inbox.get(type_)
        return waiting.pop(0) if waiting else None

    def take_as(self, type_: str, model: type[ModelT]) -> ModelT:
        event = self.take(type_)
        assert event is not None, type_
        return model.model_validate_json(event.data)

    def event_id(self, step: str, *, per_offer: bool = True) -> str:
        """Deterministic: a retried send is the same event; a new offer's commands are new."""
        if self.offer and per_offer:
            step = f"{step}#{self.offer}"
        return f"{self.app_id}/{step}"

    def rescreened(self) -> str:
        """Commands repeated after a re-screening at the grant need new event ids."""
        return f"-rescreen{self.rescreens}" if self.rescreens else ""

    def cancelled_reason(self) -> str:
        assert self.cancelled is not None
        by = f" by {self.cancelled.by}" if self.cancelled.by else ""
        return f"cancelled{by}: {self.cancelled.reason}"

    def set_aid(self, aid: m.AidReserved) -> None:
        self.status.aid = AidSummary(
            instrument=aid.instrument,
            intensity=aid.intensity,
            aid_element_eur=aid.aid_element_eur,
            voucher_eur=aid.voucher_eur,
            co_payment_eur=aid.co_payment_eur,
            reason=aid.reason,
        )

    def forget_terms(self) -> None:
        """A new text needs a new acceptance: nothing of the old one carries over."""
        self.terms, self.status.terms_sha256, self.status.acceptance = None, None, None
        self.status.acceptance_deadline = None
        self.answer = None

    def single_undertaking(self, decided: m.EligibilityDecided) -> list[str]:
        """The other undertakings whose de minimis aid counts with the applicant's: as
        eligibility grouped them (pilot-2026-r2), else every linked enterprise (pilot-2026)."""
        applicant = self.inp.applicant
        if decided.single_undertaking is None:
            return [e.undertaking_id for e in applicant.linked_enterprises]
        return [u for u in decided.single_undertaking if u != applicant.undertaking_id]
