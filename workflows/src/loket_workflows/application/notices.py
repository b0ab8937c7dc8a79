"""What people are told when an application enters a stage. Notices about events that are not
stage changes (a reminder, an escalation, a lost bundle) are sent where they happen."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from loket_contracts.application import Notification, Stage

    from loket_workflows.application.state import ApplicationState


def on_entering(state: ApplicationState, stage: Stage) -> list[Notification]:
    status = state.status
    if stage == Stage.MANUAL_REVIEW:
        escalation = workflow.now() + timedelta(seconds=state.inp.review_escalation_seconds)
        return [notice(state, "manager", "review_needed", "; ".join(status.reasons), escalation)]
    if stage == Stage.AWAITING_ROUND and state.inp.batch_round_at is not None:
        at = state.inp.batch_round_at
        message = (
            f"Your application is eligible. Call {state.inp.call_id} allocates all its "
            f"applications together at its cut-off, {at:%Y-%m-%d %H:%M} UTC: you hear then."
        )
        return [notice(state, "applicant", "awaiting_round", message, at)]
    if stage == Stage.AWAITING_ACCEPTANCE:
        message = "Your agreement is ready: read it and accept or decline."
        return [notice(state, "applicant", "terms_ready", message, status.acceptance_deadline)]
    if stage == Stage.VOUCHER_ISSUED:
        return _voucher_issued(state)
    if stage == Stage.REPORT_DUE and status.delivery is not None:
        progress = status.delivery
        message = (
            f"{progress.units_delivered} of {progress.units_booked} unit(s) delivered: "
            "tell us what the access gave you."
        )
        return [notice(state, "applicant", "access_report_due", message, status.report_due)]
    return []


def _voucher_issued(state: ApplicationState) -> list[Notification]:
    status = state.status
    assert status.delivery is not None
    valid_until = status.delivery.valid_until
    told = [
        notice(
            state,
            "applicant",
            "voucher_issued",
            f"{status.reasons[0]}, valid until {valid_until:%Y-%m-%d}: book your visits "
            "with the facilities.",
            valid_until,
        )
    ]
    lines = status.allocation
    for facility_id in sorted({line.facility_id for line in lines}):
        booked = ", ".join(
            f"{line.units} {line.unit}(s) of {line.service_type} in slot {line.slot_id}"
            for line in lines
            if line.facility_id == facility_id
        )
        message = (
            f"booked under voucher {status.voucher_id}: {booked}. Report each delivery on "
            "loket.facility.capacity.v1 (eu.loket.facility.delivery.v1)."
        )
        told.append(
            notice(state, "facility", "booking_confirmed", message, valid_until, facility_id)
        )
    return told


def notice(
    state: ApplicationState,
    audience: str,
    kind: str,
    message: str,
    due: datetime | None = None,
    facility_id: str | None = None,
) -> Notification:
    """One notice about this application, for one audience."""
    return Notification(
        application_id=state.app_id,
        audience=audience,
        kind=kind,
        message=message,
        due=due,
        facility_id=facility_id,
    )
