"""Calls for applications, as the programme opens, amends and closes them.

A call has a budget per priority area, opening and closing times and a mode: `online` (first
come, first served, as holds are asked for) or `batch` (applications queue until the cut-off,
the closing time, and one optimal allocation round serves them together). The gateway owns
calls; every change is a new version with who made it. The vouchers service learns the
budgets from `CallChanged` on `loket.calls.v1`. Legal thresholds stay in the scheme file.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Final, Literal, Self

from pydantic import BaseModel, Field, model_validator

from loket_contracts.bounds import MAX_EUR, CallId, Name, SaneTime, Text
from loket_contracts.capacity import PriorityArea

CALL_CHANGED: Final = "eu.loket.calls.call.changed.v1"
ROUND_WORKFLOW: Final = "AllocationRound"
ROUND_SCHEDULE_PREFIX: Final = "round-"  # + call id: the schedule that runs a batch call's round

CallMode = Literal["online", "batch"]
CallStatus = Literal["open", "closed"]
BudgetEur = Annotated[Decimal, Field(gt=0, le=MAX_EUR, allow_inf_nan=False, decimal_places=2)]
Budgets = Annotated[dict[PriorityArea, BudgetEur], Field(min_length=1, max_length=5)]


class CallSpec(BaseModel):
    """A new call, as a manager opens it."""

    call_id: Annotated[CallId, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=60)]
    title: Name
    mode: CallMode = "online"
    opens_at: SaneTime
    closes_at: SaneTime | None = None  # a batch call's cut-off; an online call may stay open
    budgets: Budgets
    # Batch rounds: no applicant country takes more than this share of a facility's capacity.
    country_share_cap: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False)

    @model_validator(mode="after")
    def _dates(self) -> Self:
        if self.closes_at is not None and self.closes_at <= self.opens_at:
            raise ValueError("closes_at must be after opens_at")
        if self.mode == "batch" and self.closes_at is None:
            raise ValueError("a batch call needs closes_at: its round runs at the cut-off")
        return self


class CallAmendment(BaseModel):
    """What a manager changes; absent fields stay. `version` is the one the manager read:
    a change made meanwhile by someone else is refused, not overwritten."""

    version: int = Field(ge=1, le=1_000_000)
    reason: Text = Field(min_length=1)
    title: Name | None = None
    opens_at: SaneTime | None = None
    closes_at: SaneTime | None = None
    budgets: Budgets | None = None  # per area; the areas not named keep their budget


class CallClosing(BaseModel):
    version: int = Field(ge=1, le=1_000_000)
    reason: Text = Field(min_length=1)


class Call(CallSpec):
    version: int
    status: CallStatus
    changed_at: datetime
    changed_by: str
    source: str  # "scheme <version>" for calls from the scheme file, else "programme"

    def open_at(self, moment: datetime) -> bool:
        return (
            self.status == "open"
            and self.opens_at <= moment
            and (self.closes_at is None or moment < self.closes_at)
        )


class CallVersion(BaseModel):
    version: int
    changed_at: datetime
    changed_by: str
    reason: str
    call: Call


class CallList(BaseModel):
    calls: list[Call]


class CallHistory(BaseModel):
    call_id: str
    versions: list[CallVersion]


class CallChanged(BaseModel):
    """A call's version, for the services that act on it (vouchers: its budgets)."""

    call_id: CallId
    version: int = Field(ge=1)
    mode: CallMode
    status: CallStatus
    closes_at: datetime | None = None
    budgets: Budgets


class RoundView(BaseModel):
    """A batch call's allocation round, as the programme sees it."""

    call_id: str
    state: Literal["scheduled", "running", "solved", "failed", "none"]
    runs_at: datetime | None = None
    round_id: str | None = None
    served: int | None = None
    unserved: int | None = None
    objective: float | None = None
    lp_bound: float | None = None
    gap: float | None = None
    status: str | None = None
    solve_seconds: float | None = None
    requested_by_country: dict[str, int] = Field(default_factory=dict)
    served_by_country: dict[str, int] = Field(default_factory=dict)


class RoundInput(BaseModel):
    """The round workflow's input: which call, with its fairness cap."""

    call_id: CallId
    country_share_cap: float | None = Field(default=None, gt=0, le=1)
    resend_after_seconds: int = Field(default=60, ge=1, le=86400)
