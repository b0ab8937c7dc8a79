"""3.-6. The offer: slots held, aid screened and reserved, terms drafted, the applicant's
answer raced against the acceptance deadline."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from decimal import Decimal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from loket_contracts import commands as c
    from loket_contracts import messages as m
    from loket_contracts.application import ServiceEvent, Stage, Terms

    from loket_workflows.application.conversation import Conversation
    from loket_workflows.application.state import Cancelled, Held, Next
    from loket_workflows.application.steps.giving_back import compensate, reallocate


async def make(conv: Conversation, decided: m.EligibilityDecided) -> Next:
    """Hold, screen, agree: ON (accepted), ENDED or REOFFER."""
    s, inp = conv.s, conv.s.inp
    conv.enter(Stage.ALLOCATION)
    # Held before the step: a cancellation while the hold is on its way still releases it
    # (a release of nothing is harmless, and follows the hold in order).
    s.held.add(Held.HOLD)
    # A batch call's first bundle comes from the call's round; a re-allocation (capacity
    # withdrawn later) is served first come, like an online call's.
    in_round = inp.batch_round_at is not None and not s.offer
    asked = m.HoldRequested(
        application_id=s.app_id,
        applicant_workplace_country=inp.applicant.workplace_country,
        needs=inp.needs,
        hold_ttl_seconds=inp.hold_ttl_seconds,
        batch_call_id=inp.call_id if in_round else None,
    )
    held = (
        await _await_round(conv, asked) if in_round else await conv.ask_any(c.HOLD, "hold", asked)
    )
    if held.type == m.HOLD_FAILED:
        s.held.discard(Held.HOLD)
        failed = m.HoldFailed.model_validate_json(held.data)
        if s.offer:
            conv.notify(
                "applicant",
                "reallocation_failed",
                f"No other bundle could replace the withdrawn capacity: {failed.reason}. "
                "Everything held for you has been released.",
            )
        conv.finish(Stage.UNALLOCATABLE, [failed.reason])
        return Next.ENDED
    placed = m.HoldPlaced.model_validate_json(held.data)
    s.status.allocation = placed.lines
    return await _screen(conv, decided, placed.lines)


async def _await_round(conv: Conversation, asked: m.HoldRequested) -> ServiceEvent:
    """Queued for the call's round: shown as waiting until the cut-off (no resends, no
    "stuck" notice before it), then answered like any hold."""
    s = conv.s
    assert s.inp.batch_round_at is not None
    conv.enter(Stage.AWAITING_ROUND)
    sent = conv.queue(c.HOLD, "hold", asked)
    until_cut_off = s.inp.batch_round_at - workflow.now()
    if until_cut_off > timedelta(0):

        def answered() -> bool:
            return s.has(*c.HOLD.answers) or s.cancelled is not None

        with contextlib.suppress(TimeoutError):
            await conv.wait(answered, within=until_cut_off, settle=True)
    return await conv.receive(c.HOLD.answers, [sent])


async def _screen(
    conv: Conversation, decided: m.EligibilityDecided, lines: list[m.AllocatedLine]
) -> Next:
    """4. State aid and budget."""
    s, inp = conv.s, conv.s.inp
    conv.enter(Stage.SCREENING)
    s.held.add(Held.RESERVATION)
    asked = m.ScreeningRequested(
        application_id=s.app_id,
        undertaking_id=inp.applicant.undertaking_id,
        linked_undertakings=s.single_undertaking(decided),
        declared_prior_aid=inp.applicant.declared_prior_aid,
        call_id=inp.call_id,
        priority_area=inp.priority_area,
        market_value_eur=sum((line.market_value_eur for line in lines), Decimal(0)),
        applicant_payment_eur=inp.applicant_payment_eur,
        as_of=workflow.now().date(),  # the 3-year de minimis window ends today
        sme=decided.sme_category != "large",
        hold_ttl_seconds=inp.hold_ttl_seconds,
        excluded_instruments=decided.excluded_instruments,
        scheme_version=inp.scheme_version,
    )
    screened = await conv.ask_any(c.SCREENING, "screening", asked)
    if screened.type == m.SCREENING_REFUSED:
        refused = m.ScreeningRefused.model_validate_json(screened.data)
        await compensate(conv)
        conv.finish(Stage.REFUSED, [refused.reason])
        return Next.ENDED
    aid = m.AidReserved.model_validate_json(screened.data)
    s.set_aid(aid)
    return await agree(conv, lines, aid)


async def agree(conv: Conversation, lines: list[m.AllocatedLine], aid: m.AidReserved) -> Next:
    """5.-6. Terms for this bundle and aid, and the applicant's answer."""
    s, inp = conv.s, conv.s.inp
    conv.enter(Stage.TERMS)
    asked = m.TermsRequested(
        application_id=s.app_id,
        applicant_name=inp.applicant.name,
        applicant_country=inp.applicant.country,
        lines=lines,
        instrument=aid.instrument,
        aid_element_eur=aid.aid_element_eur,
        voucher_eur=aid.voucher_eur,
        co_payment_eur=aid.co_payment_eur,
        language=inp.language,
    )
    rendered = await conv.ask(c.TERMS, "terms" + s.rescreened(), asked, m.TermsRendered)
    s.terms = Terms(
        application_id=s.app_id,
        template_id=rendered.template_id,
        template_version=rendered.template_version,
        text=rendered.text,
        sha256=rendered.sha256,
        language=rendered.language,
        documents=rendered.documents,
    )
    s.status.terms_sha256 = rendered.sha256
    return await _answer(conv)


async def _answer(conv: Conversation) -> Next:
    """6. The applicant decides within the window; a reminder half-way."""
    s = conv.s
    window = timedelta(seconds=s.inp.acceptance_window_seconds)
    deadline = workflow.now() + window
    s.status.acceptance_deadline = deadline
    conv.enter(Stage.AWAITING_ACCEPTANCE)

    def decided_or_invalidated() -> bool:
        return s.answer is not None or s.cancelled is not None or s.has(m.ALLOCATION_INVALIDATED)

    try:
        try:
            await conv.wait(decided_or_invalidated, within=window / 2, settle=True)
        except TimeoutError:
            conv.notify(
                "applicant",
                "acceptance_reminder",
                "Half of the time to accept has passed.",
                deadline,
            )
            await conv.wait(decided_or_invalidated, within=window / 2, settle=True)
    except TimeoutError:
        await compensate(conv)
        conv.finish(
            Stage.EXPIRED, [f"terms not accepted by the deadline {deadline:%Y-%m-%d %H:%M} UTC"]
        )
        return Next.ENDED
    if s.cancelled is not None and s.answer is None:
        raise Cancelled()
    if s.answer is None:
        # A facility withdrew capacity under the hold: the allocation service released the
        # bundle; give the aid back and offer a new bundle with new terms.
        lost = s.take_as(m.ALLOCATION_INVALIDATED, m.AllocationInvalidated)
        return await reallocate(conv, lost.reason)
    if s.answer == "decline":
        await compensate(conv)
        why = f": {s.decline_reason}" if s.decline_reason else ""
        conv.finish(Stage.DECLINED, ["applicant declined the terms" + why])
        return Next.ENDED
    return Next.ON
