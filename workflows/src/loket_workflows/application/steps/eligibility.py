"""2. Eligibility, and a programme manager's review when the rules cannot decide alone."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from loket_contracts import commands as c
    from loket_contracts import messages as m
    from loket_contracts.application import Stage

    from loket_workflows.application.conversation import Conversation
    from loket_workflows.application.state import Cancelled


async def decide(conv: Conversation) -> m.EligibilityDecided | None:
    """The eligibility decision, or None when the application ended here."""
    s, inp = conv.s, conv.s.inp
    conv.enter(Stage.ELIGIBILITY)
    asked = m.EligibilityRequested(
        application_id=inp.application_id,
        applicant=inp.applicant,
        priority_area=inp.priority_area,
        as_of=workflow.now().date(),
        scheme_version=inp.scheme_version,
    )
    decided = await conv.ask(c.ELIGIBILITY, "eligibility", asked, m.EligibilityDecided)
    s.status.eligibility = decided.rules
    s.status.sme_category = decided.sme_category
    if decided.outcome == "ineligible":
        conv.finish(Stage.INELIGIBLE, decided.failed_reasons)
        return None
    if decided.outcome == "manual_review" and not await _reviewed(conv, decided.failed_reasons):
        return None
    return decided


async def _reviewed(conv: Conversation, reasons: list[str]) -> bool:
    """Wait for a programme manager; escalate once when the deadline passes. True when
    approved; on rejection the application ends ineligible with the manager's reason."""
    s = conv.s
    s.status.reasons = reasons
    conv.enter(Stage.MANUAL_REVIEW)
    escalation = timedelta(seconds=s.inp.review_escalation_seconds)

    def decided() -> bool:
        return s.review is not None or s.cancelled is not None

    try:
        await conv.wait(decided, within=escalation, settle=True)
    except TimeoutError:
        conv.notify(
            "manager", "review_escalated", f"no decision within {escalation}: " + "; ".join(reasons)
        )
        await conv.wait(decided, settle=True)
    if s.review is None:
        raise Cancelled()
    if not s.review.approve:
        conv.finish(
            Stage.INELIGIBLE,
            [f"rejected by programme manager {s.review.manager}: {s.review.reason}"],
        )
        return False
    s.status.reasons = [f"approved by programme manager {s.review.manager}: {s.review.reason}"]
    return True
