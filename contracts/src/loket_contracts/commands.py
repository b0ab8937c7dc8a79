"""The workflow's commands as data: each declares its event type, its topic, its body and the
answers it may get. The application workflow asks by these (`ask(commands.HOLD, body)`), and
the test fakes answer by them: one place to read what a service is asked and what it says."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from pydantic import BaseModel

from loket_contracts import messages as m
from loket_contracts import topics
from loket_contracts.application import (
    NOTIFICATION,
    STAGE_CHANGED,
    AcceptanceRecord,
    Notification,
    StageChanged,
)

BodyT = TypeVar("BodyT", bound=BaseModel)


@dataclass(frozen=True)
class Command(Generic[BodyT]):
    type: str
    topic: str
    body: builtins.type[BodyT]  # `type` is the event type here
    answers: tuple[str, ...] = ()  # empty: nothing comes back (a record, a notice)

    def __post_init__(self) -> None:
        assert m.BODIES.get(self.type, self.body) is self.body, self.type


ELIGIBILITY: Final = Command(
    m.ELIGIBILITY_REQUESTED,
    topics.ELIGIBILITY_COMMANDS,
    m.EligibilityRequested,
    (m.ELIGIBILITY_DECIDED,),
)
HOLD: Final = Command(
    m.HOLD_REQUESTED,
    topics.ALLOCATION_COMMANDS,
    m.HoldRequested,
    (m.HOLD_PLACED, m.HOLD_FAILED),
)
CONFIRM: Final = Command(
    m.CONFIRM_REQUESTED, topics.ALLOCATION_COMMANDS, m.AllocationRef, (m.ALLOCATION_CONFIRMED,)
)
RELEASE_HOLD: Final = Command(
    m.RELEASE_REQUESTED, topics.ALLOCATION_COMMANDS, m.AllocationRef, (m.ALLOCATION_RELEASED,)
)
CLOSE_BOOKING: Final = Command(
    m.BOOKING_CLOSE_REQUESTED, topics.ALLOCATION_COMMANDS, m.BookingClose, (m.BOOKING_CLOSED,)
)
SCREENING: Final = Command(
    m.SCREENING_REQUESTED,
    topics.VOUCHERS_COMMANDS,
    m.ScreeningRequested,
    (m.AID_RESERVED, m.SCREENING_REFUSED),
)
# pilot-2026-r2 checks de minimis again at the grant: the aid may be screened again or refused.
ISSUE: Final = Command(
    m.ISSUE_REQUESTED,
    topics.VOUCHERS_COMMANDS,
    m.VoucherRef,
    (m.VOUCHER_ISSUED, m.AID_RESCREENED, m.SCREENING_REFUSED),
)
RELEASE_RESERVATION: Final = Command(
    m.RESERVATION_RELEASE_REQUESTED,
    topics.VOUCHERS_COMMANDS,
    m.VoucherRef,
    (m.RESERVATION_RELEASED,),
)
REDEEM: Final = Command(
    m.REDEEM_REQUESTED, topics.VOUCHERS_COMMANDS, m.Redemption, (m.VOUCHER_REDEEMED,)
)
CLOSE_VOUCHER: Final = Command(
    m.VOUCHER_CLOSE_REQUESTED, topics.VOUCHERS_COMMANDS, m.VoucherClose, (m.VOUCHER_CLOSED,)
)
TERMS: Final = Command(
    m.TERMS_REQUESTED, topics.CHARTER_COMMANDS, m.TermsRequested, (m.TERMS_RENDERED,)
)
RECORD_ACCEPTANCE: Final = Command(m.ACCEPTANCE_RECORDED, topics.CHARTER_COMMANDS, AcceptanceRecord)
# A batch call's cut-off: the round workflow asks; each queued application gets its own answer.
ROUND: Final = Command(
    m.ROUND_REQUESTED, topics.ALLOCATION_COMMANDS, m.RoundRequested, (m.ROUND_SOLVED,)
)
STAGE: Final = Command(STAGE_CHANGED, topics.APPLICATION_EVENTS, StageChanged)
NOTICE: Final = Command(NOTIFICATION, topics.NOTIFICATIONS, Notification)

WORKFLOW_COMMANDS: Final = (
    ELIGIBILITY,
    HOLD,
    CONFIRM,
    RELEASE_HOLD,
    CLOSE_BOOKING,
    SCREENING,
    ISSUE,
    RELEASE_RESERVATION,
    REDEEM,
    CLOSE_VOUCHER,
    TERMS,
    RECORD_ACCEPTANCE,
    ROUND,
    STAGE,
    NOTICE,
)
BY_TYPE: Final = {c.type: c for c in WORKFLOW_COMMANDS}
