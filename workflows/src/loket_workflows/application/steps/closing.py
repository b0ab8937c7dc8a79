"""9. The access report is due a set time after the last delivery; then closure."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from loket_contracts.application import Stage

    from loket_workflows.application.conversation import Conversation


async def report_and_close(conv: Conversation) -> None:
    s = conv.s
    progress = s.status.delivery
    assert progress is not None
    if progress.units_delivered == 0 or progress.last_delivery_at is None:
        why = progress.closed_reason or "voucher closed"
        conv.finish(Stage.CLOSED, [f"nothing delivered: {why}"])
        return
    due = progress.last_delivery_at + timedelta(seconds=s.inp.access_report_seconds)
    s.status.report_due = due
    conv.enter(Stage.REPORT_DUE)
    try:
        await conv.wait(
            lambda: s.status.access_report is not None or s.cancelled is not None,
            within=max(due - workflow.now(), timedelta(seconds=1)),
            settle=True,
        )
    except TimeoutError:
        conv.notify("manager", "access_report_overdue", f"no access report by {due:%Y-%m-%d}")
        conv.finish(
            Stage.CLOSED, [f"closed without the access report due {due:%Y-%m-%d %H:%M} UTC"]
        )
        return
    report = s.status.access_report
    if report is None:  # cancelled: nothing is held any more
        conv.finish(Stage.CANCELLED, [s.cancelled_reason()])
        return
    assert report.submitted_at is not None
    conv.finish(Stage.CLOSED, [f"access report received {report.submitted_at:%Y-%m-%d %H:%M} UTC"])
