"""The console's work queue: what needs a person now, and nothing that is waiting on one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from loket_gateway.console.panels import sort_into_queue
from loket_gateway.listings import ApplicationRow

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)
HOUR = 3600.0


def row(app: str, stage: str, hours_ago: float) -> ApplicationRow:
    at = NOW - timedelta(hours=hours_ago)
    return ApplicationRow(
        application_id=app,
        stage=stage,
        stage_at=at,
        submitted_at=at,
        applicant_name=app,
        applicant_country="AT",
        priority_area="quantum",
        call_id="LOKET-2026-01",
    )


def test_reviews_overdue_reports_and_stuck_applications_oldest_first() -> None:
    rows = [
        row("review-new", "manual_review", 1),
        row("review-old", "manual_review", 50),
        row("report-late", "report_due", 24 * 61),
        row("report-in-time", "report_due", 24 * 10),
        row("stuck", "allocation", 3),
        row("moving", "allocation", 0.1),
        row("waits-for-the-applicant", "awaiting_acceptance", 300),
        row("voucher-in-use", "voucher_issued", 3000),
        row("done", "closed", 9000),
        row("refused-long-ago", "ineligible", 9000),
    ]
    queue = sort_into_queue(rows, NOW, access_report_s=60 * 24 * HOUR, stuck_notice_s=HOUR)
    assert [r.application_id for r in queue.reviews] == ["review-old", "review-new"]
    assert [r.application_id for r in queue.overdue_reports] == ["report-late"]
    assert [r.application_id for r in queue.stuck] == ["stuck"]
