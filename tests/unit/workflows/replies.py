"""What the services answer in the workflow tests: fixed figures, one reply per command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from loket_contracts import messages as m
from loket_contracts.application import (
    AccessReport,
    ServiceEvent,
)
from loket_workflows.application.dto import SendCommand
from pydantic import BaseModel

T0 = datetime(2027, 3, 1, tzinfo=UTC)
LINE = m.AllocatedLine(
    facility_id="f",
    facility_name="F",
    site="Lund",
    country="SE",
    kind="RI",
    offering_id="o",
    slot_id="s",
    service_type="beamtime.x",
    unit="shift",
    units=2,
    start=T0,
    end=T0 + timedelta(days=1),
    market_price_eur=Decimal(3000),
    market_value_eur=Decimal(6000),
)
TERMS_TEXT = "terms"
TERMS_SHA = "a" * 64
REPORT = AccessReport(summary="Imaged 40 samples; the defect map fed our process change.")


def reply(cmd: SendCommand, eligible: bool | None = True) -> tuple[str, BaseModel] | None:
    """What each service would answer to a command."""
    app = cmd.correlation_id
    match cmd.type:
        case m.ELIGIBILITY_REQUESTED:
            return m.ELIGIBILITY_DECIDED, m.EligibilityDecided(
                application_id=app,
                outcome="eligible"
                if eligible
                else "manual_review"
                if eligible is None
                else "ineligible",
                sme_category="small",
                scheme_version="pilot-2026",
                rules=[
                    m.RuleOutcome(
                        rule_id="sme.size",
                        passed=eligible is not False,
                        needs_review=eligible is None,
                        legal_source="Rec",
                        reason="small" if eligible else "too big",
                    )
                ],
            )
        case m.HOLD_REQUESTED:
            return m.HOLD_PLACED, m.HoldPlaced(
                application_id=app, expires_at=T0, lines=[LINE], reason="first fit"
            )
        case m.SCREENING_REQUESTED:
            return m.AID_RESERVED, m.AidReserved(
                application_id=app,
                instrument="de_minimis",
                aid_element_eur=Decimal(6000),
                voucher_eur=Decimal(6000),
                co_payment_eur=Decimal(0),
                de_minimis_headroom_after_eur=Decimal(294000),
                scheme_version="pilot-2026",
                reason="fits",
            )
        case m.TERMS_REQUESTED:
            return m.TERMS_RENDERED, m.TermsRendered(
                application_id=app,
                template_id="t",
                template_version="1",
                text=TERMS_TEXT,
                # a new offer (its event id ends in #n) renders a new text with a new hash
                sha256=TERMS_SHA
                if "#" not in cmd.event_id and "rescreen" not in cmd.event_id
                else "b" * 64,
            )
        case m.CONFIRM_REQUESTED:
            return m.ALLOCATION_CONFIRMED, m.AllocationConfirmed(
                application_id=app, confirmed=True, reason="ok"
            )
        case m.ISSUE_REQUESTED:
            return m.VOUCHER_ISSUED, m.VoucherIssued(
                application_id=app,
                voucher_id="V-1",
                voucher_eur=Decimal(6000),
                instrument="de_minimis",
                granted_on=T0.date(),
            )
        case m.BOOKING_CLOSE_REQUESTED:
            return m.BOOKING_CLOSED, m.BookingClosed(
                application_id=app, units_delivered=0, units_released=2, reason="closed"
            )
        case m.VOUCHER_CLOSE_REQUESTED:
            return m.VOUCHER_CLOSED, m.VoucherClosed(
                application_id=app,
                voucher_id="V-1",
                redeemed_eur=Decimal(0),
                released_eur=Decimal(6000),
                aid_recorded_eur=Decimal(0),
                legal_source="R&D&I Framework",
                reason=m.VoucherClose.model_validate_json(cmd.body_json).reason,
            )
        case m.RELEASE_REQUESTED:
            return m.ALLOCATION_RELEASED, m.AllocationReleased(application_id=app, units_released=2)
        case m.RESERVATION_RELEASE_REQUESTED:
            return m.RESERVATION_RELEASED, m.ReservationReleased(
                application_id=app, released_eur=Decimal(6000)
            )
    return None


def invalidated(handle, n: int, was: str = "confirmed") -> ServiceEvent:
    return ServiceEvent(
        event_id=f"inv-{n}",
        type=m.ALLOCATION_INVALIDATED,
        data=m.AllocationInvalidated(
            application_id=handle.id,
            facility_id="f",
            slot_id="s",
            was=was,
            reason="beamline maintenance",
        ).model_dump_json(),
    )
