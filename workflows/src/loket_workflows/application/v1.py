"""The first application workflow type, `ApplicationWorkflow`: FROZEN, retiring.

New applications run `ApplicationV3` (workflow.py). This type stays registered, unchanged,
only so that runs started before it was replaced can finish; every `workflow.patched` branch
below is theirs. Delete this file (and its histories) once no run of it is open:
`loket workflows open` (README: rolling out a change to the workflow).

One workflow per application: eligibility → hold → screening → terms → acceptance → voucher.

Service results arrive as `service_event` signals from the bridge. Human steps (accept/decline)
are updates raced against a durable timer. Everything here is deterministic: time comes from
`workflow.now()`, I/O only through the `send_command` activity.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from loket_contracts import messages as m
    from loket_contracts import seals, topics
    from loket_contracts.application import (
        NOTIFICATION,
        QUERY_DEADLINES,
        QUERY_STATUS,
        QUERY_TERMS,
        SA_FACILITY_COUNTRIES,
        SA_STAGE,
        SIGNAL_SERVICE_EVENT,
        STAGE_CHANGED,
        TERMINAL_STAGES,
        UPDATE_ACCEPT_TERMS,
        UPDATE_CANCEL,
        UPDATE_DECLINE_TERMS,
        UPDATE_REVIEW,
        UPDATE_SUBMIT_REPORT,
        V1_WORKFLOW_NAME,
        AcceptanceRecord,
        AccessReport,
        AidSummary,
        ApplicationInput,
        ApplicationStatus,
        Cancellation,
        DecisionRecord,
        DeliveryProgress,
        ManagerDecision,
        Notification,
        ServiceEvent,
        Stage,
        StageChange,
        StageChanged,
        Terms,
        TermsDecision,
    )

    from loket_workflows.application.dto import SendCommand, SendCommands

# How long a service may take to answer a command before the application fails over to
# compensation. Generous: a service may be down for a deploy or a broker pause.
SERVICE_REPLY_TIMEOUT = timedelta(hours=6)
MAX_REALLOCATIONS = 3
MAX_RESEND_INTERVAL = timedelta(minutes=15)
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=30)
)


AnswerT = TypeVar("AnswerT", bound=BaseModel)


class ServiceTimeout(Exception):
    pass


def _single_undertaking(inp: ApplicationInput, decided: m.EligibilityDecided) -> list[str]:
    """The other undertakings whose de minimis aid counts with the applicant's: as eligibility
    grouped them (pilot-2026-r2), else every linked enterprise (pilot-2026)."""
    if decided.single_undertaking is None:
        return [e.undertaking_id for e in inp.applicant.linked_enterprises]
    return [u for u in decided.single_undertaking if u != inp.applicant.undertaking_id]


class Cancelled(Exception):
    pass


STAGE_KEY = SearchAttributeKey.for_keyword(SA_STAGE)
FACILITY_COUNTRIES_KEY = SearchAttributeKey.for_keyword_list(SA_FACILITY_COUNTRIES)


@workflow.defn(name=V1_WORKFLOW_NAME)
class ApplicationWorkflow:
    @workflow.init
    def __init__(self, inp: ApplicationInput) -> None:
        self._inp = inp
        self._status = ApplicationStatus(
            application_id=inp.application_id,
            stage=Stage.SUBMITTED,
            history=[StageChange(stage=Stage.SUBMITTED, at=inp.submitted_at)],
        )
        self._inbox: dict[str, list[ServiceEvent]] = {}
        self._seen: set[str] = set()
        self._terms: Terms | None = None
        self._decision: str | None = None  # "accept" | "decline"
        self._decline_reason: str | None = None
        self._holding = False
        self._reserved = False
        self._attempt = 0  # re-allocations so far: part of every later command's event id
        self._cancelled: Cancellation | None = None
        self._review: ManagerDecision | None = None
        self._notices = 0
        # What must be given back after issuance (delivery-v1): the booking, the voucher.
        self._booked = False
        self._voucher_active = False
        self._tracks_delivery = False
        # batched-sends-v1: stage events and notifications ride along with the next command
        # (one activity instead of several); everything queued is sent before any wait.
        self._batching = False
        self._queued: list[SendCommand] = []
        self._asks_again = False  # ask-again-v1, decided at the start of a run
        self._rescreens = 0  # grant-time-de-minimis-v1: new agreements after a re-screening

    # ---- signals, updates, queries ------------------------------------------------------

    @workflow.signal(name=SIGNAL_SERVICE_EVENT)
    def on_service_event(self, event: ServiceEvent) -> None:
        if event.event_id in self._seen:  # the bridge may redeliver
            return
        self._seen.add(event.event_id)
        self._inbox.setdefault(event.type, []).append(event)

    @workflow.query(name=QUERY_STATUS)
    def status(self) -> ApplicationStatus:
        return self._status

    @workflow.query(name=QUERY_TERMS)
    def terms(self) -> Terms | None:
        return self._terms

    @workflow.update(name=UPDATE_ACCEPT_TERMS)
    def accept_terms(self, decision: TermsDecision) -> ApplicationStatus:
        self._decision = "accept"
        assert self._terms is not None
        actor = self._record(decision.seal, "accept_terms", f"accepted {self._terms.sha256}")
        self._status.acceptance = AcceptanceRecord(
            application_id=self._inp.application_id,
            terms_sha256=self._terms.sha256,
            template_id=self._terms.template_id,
            template_version=self._terms.template_version,
            language=self._terms.language,
            decided_by=decision.decided_by or (actor.name if actor else None),
            accepted_at=workflow.now(),
            request=decision.request,
            actor=actor,
        )
        return self._status

    @accept_terms.validator
    def _validate_accept(self, decision: TermsDecision) -> None:
        self._authorised(decision.seal, UPDATE_ACCEPT_TERMS, owner=True)
        self._validate_decision(decision)

    @workflow.update(name=UPDATE_DECLINE_TERMS)
    def decline_terms(self, decision: TermsDecision) -> ApplicationStatus:
        self._decision = "decline"
        self._decline_reason = decision.reason
        self._record(decision.seal, "decline_terms", decision.reason or "declined")
        return self._status

    @decline_terms.validator
    def _validate_decline(self, decision: TermsDecision) -> None:
        self._authorised(decision.seal, UPDATE_DECLINE_TERMS, owner=True)
        self._validate_decision(decision)

    @workflow.update(name=UPDATE_REVIEW)
    def review(self, decision: ManagerDecision) -> ApplicationStatus:
        verdict = "approved" if decision.approve else "rejected"
        actor = self._record(decision.seal, "review", f"{verdict}: {decision.reason}")
        self._review = decision.model_copy(
            update={"manager": actor.name if actor else decision.manager, "seal": None}
        )
        return self._status

    @review.validator
    def _validate_review(self, decision: ManagerDecision) -> None:
        self._authorised(decision.seal, UPDATE_REVIEW, manager=True)
        if self._status.stage != Stage.MANUAL_REVIEW or self._review is not None:
            raise ApplicationError(
                f"nothing to review in stage {self._status.stage}", type="WrongStage"
            )

    @workflow.update(name=UPDATE_CANCEL)
    def cancel(self, cancellation: Cancellation) -> ApplicationStatus:
        actor = self._record(cancellation.seal, "cancel", cancellation.reason)
        self._cancelled = cancellation.model_copy(
            update={"by": cancellation.by or (actor.name if actor else None), "seal": None}
        )
        return self._status

    @cancel.validator
    def _validate_cancel(self, cancellation: Cancellation) -> None:
        self._authorised(cancellation.seal, UPDATE_CANCEL, manager=True, owner=True)
        stage = self._status.stage
        if stage in TERMINAL_STAGES or (stage == Stage.ISSUING and not self._tracks_delivery):
            raise ApplicationError(
                f"an application in stage {stage} can no longer be cancelled",
                type="WrongStage",
            )
        if self._cancelled is not None:
            raise ApplicationError("the application is already being cancelled", type="WrongStage")

    @workflow.update(name=UPDATE_SUBMIT_REPORT)
    def submit_report(self, report: AccessReport) -> ApplicationStatus:
        actor = self._record(report.seal, "submit_report", "access report submitted")
        self._status.access_report = report.model_copy(
            update={
                "submitted_at": workflow.now(),
                "submitted_by": report.submitted_by or (actor.name if actor else None),
                "seal": None,
            }
        )
        return self._status

    @submit_report.validator
    def _validate_report(self, report: AccessReport) -> None:
        self._authorised(report.seal, UPDATE_SUBMIT_REPORT, owner=True)
        if self._status.stage != Stage.REPORT_DUE or self._status.access_report is not None:
            raise ApplicationError(
                f"no access report is due in stage {self._status.stage}", type="WrongStage"
            )

    @workflow.query(name=QUERY_DEADLINES)
    def deadlines(self) -> dict[str, datetime]:
        return self._status.deadlines

    def _authorised(
        self, seal: str | None, update: str, *, manager: bool = False, owner: bool = False
    ) -> None:
        """Only decisions sealed by the gateway count: a manager's, or a person's of the
        organisation the application belongs to."""
        try:
            actor = seals.verify(seal, self._inp.application_id, update, workflow.now())
        except seals.InvalidSeal as exc:
            raise ApplicationError(str(exc), type="Forbidden") from None
        if manager and actor.has("manager"):
            return
        owned_by = self._inp.owner.org if self._inp.owner else None
        if owner and actor.has("applicant") and owned_by is not None and actor.org == owned_by:
            return
        raise ApplicationError(f"{actor.name} may not decide {update} here", type="Forbidden")

    def _record(self, seal: str | None, decision: str, summary: str) -> seals.Actor | None:
        """Who decided, from the seal the validator checked (none in pre-identity histories)."""
        actor = seals.actor_of(seal)
        if actor is not None:
            self._status.decisions.append(
                DecisionRecord(decision=decision, actor=actor, at=workflow.now(), summary=summary)
            )
        return actor

    def _validate_decision(self, decision: TermsDecision) -> None:
        if self._status.stage != Stage.AWAITING_ACCEPTANCE or self._decision is not None:
            raise ApplicationError(
                f"terms cannot be decided in stage {self._status.stage}", type="WrongStage"
            )
        assert self._terms is not None
        if decision.terms_sha256 != self._terms.sha256:
            raise ApplicationError(
                "terms_sha256 does not match the terms offered: read the current terms again",
                type="TermsMismatch",
            )

    # ---- the lifecycle -------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: ApplicationInput) -> ApplicationStatus:
        self._batching = workflow.patched("batched-sends-v1")
        self._asks_again = workflow.patched("ask-again-v1")
        try:
            await self._lifecycle(inp)
        except ServiceTimeout as exc:
            await self._compensate()
            await self._finish(Stage.FAILED, [str(exc)])
        except Cancelled:
            await self._compensate()
            await self._finish(Stage.CANCELLED, [self._cancelled_reason()])
        await self._flush()
        return self._status

    async def _lifecycle(self, inp: ApplicationInput) -> None:
        app_id = inp.application_id
        today = workflow.now().date()

        # 2. eligibility
        await self._enter(Stage.ELIGIBILITY)
        decided = await self._ask(
            topics.ELIGIBILITY_COMMANDS,
            m.ELIGIBILITY_REQUESTED,
            "eligibility",
            m.EligibilityRequested(
                application_id=app_id,
                applicant=inp.applicant,
                priority_area=inp.priority_area,
                as_of=today,
                scheme_version=inp.scheme_version,
            ),
            m.EligibilityDecided,
            m.ELIGIBILITY_DECIDED,
        )
        self._status.eligibility = decided.rules
        self._status.sme_category = decided.sme_category
        if decided.outcome == "ineligible":
            return await self._finish(Stage.INELIGIBLE, decided.failed_reasons)
        if decided.outcome == "manual_review":
            if not workflow.patched("manager-review-v1"):
                return await self._finish(Stage.MANUAL_REVIEW, decided.failed_reasons)
            if not await self._manager_review(inp, decided.failed_reasons):
                return None

        # 3.-6. offer: hold, screening, terms, acceptance; 7. issuance; 8. delivery. Capacity
        # withdrawn before anything was delivered means a new offer (new terms, new acceptance).
        while True:
            offered = await self._offer(inp, decided, today)
            if offered == "reallocate":
                continue
            if offered == "finished":
                return
            issued = await self._issue(inp)
            if issued == "reallocate":
                continue
            if issued == "finished":
                return
            if not workflow.patched("delivery-v1"):
                # Before delivery tracking, an application ended when its voucher was issued.
                return await self._finish(Stage.VOUCHER_ISSUED, self._status.reasons)
            used = await self._deliver(inp)
            if used == "reallocate":
                continue
            if used == "finished":
                return
            break

        # 9. access report, closure
        await self._report_and_close(inp)

    async def _issue(self, inp: ApplicationInput) -> str:
        """7. Record the acceptance, confirm the booking, issue the voucher: "issued",
        "finished" or "reallocate" (the hold was lost before it could be confirmed)."""
        app_id = inp.application_id
        # Validators cannot call workflow.patched (it records a marker): decide it here.
        self._tracks_delivery = workflow.patched("delivery-v1")
        await self._enter(Stage.ISSUING)
        if workflow.patched("record-acceptance-v1") and self._status.acceptance is not None:
            # The charter service keeps the acceptance, immutable, next to the agreement.
            await self._send(
                topics.CHARTER_COMMANDS,
                m.ACCEPTANCE_RECORDED,
                "acceptance",
                self._status.acceptance,
            )
        # Issuance runs to its end; a cancellation meanwhile is handled once the voucher exists.
        confirmed = await self._ask(
            topics.ALLOCATION_COMMANDS,
            m.CONFIRM_REQUESTED,
            "confirm",
            m.AllocationRef(application_id=app_id),
            m.AllocationConfirmed,
            m.ALLOCATION_CONFIRMED,
            cancellable=False,
        )
        if not confirmed.confirmed:
            self._holding = False
            if self._inbox.get(m.ALLOCATION_INVALIDATED) and workflow.patched(
                "reoffer-after-lost-hold-v1"
            ):
                lost = m.AllocationInvalidated.model_validate_json(
                    self._inbox[m.ALLOCATION_INVALIDATED].pop(0).data
                )
                return await self._reallocate(lost.reason)
            await self._compensate()
            await self._finish(Stage.FAILED, [confirmed.reason])
            return "finished"
        if (
            self._tracks_delivery
        ):  # from here the booking, then the voucher, are what must be given back
            self._holding, self._booked = False, True
        if workflow.patched("grant-time-de-minimis-v1"):
            got = await self._issue_checked(inp)
            if isinstance(got, str):
                return got
            issued = got
        else:
            issued = await self._ask(
                topics.VOUCHERS_COMMANDS,
                m.ISSUE_REQUESTED,
                "issue",
                m.VoucherRef(application_id=app_id),
                m.VoucherIssued,
                m.VOUCHER_ISSUED,
                cancellable=False,
            )
        if self._tracks_delivery:
            self._reserved, self._voucher_active = False, True
        self._status.voucher_id = issued.voucher_id
        self._status.reasons = [
            f"voucher {issued.voucher_id} for EUR {issued.voucher_eur:,.2f} ({issued.instrument})"
        ]
        return "issued"

    async def _issue_checked(self, inp: ApplicationInput) -> m.VoucherIssued | str:
        """grant-time-de-minimis-v1: the vouchers service checks the de minimis ceiling again
        at the grant (scheme pilot-2026-r2). If aid granted meanwhile used the headroom, the
        aid is screened again: a new instrument means new terms and a new acceptance (the
        booking stays), no instrument left means a refusal with the reason."""
        app_id = inp.application_id
        while True:
            again = self._rescreened()
            sent = await self._send(
                topics.VOUCHERS_COMMANDS,
                m.ISSUE_REQUESTED,
                "issue" + again,
                m.VoucherRef(application_id=app_id),
            )
            got = await self._receive(
                m.VOUCHER_ISSUED,
                m.AID_RESCREENED,
                m.SCREENING_REFUSED,
                cancellable=False,
                resend=[sent],
            )
            if got.type == m.VOUCHER_ISSUED:
                return m.VoucherIssued.model_validate_json(got.data)
            if got.type == m.SCREENING_REFUSED:
                refused = m.ScreeningRefused.model_validate_json(got.data)
                await self._compensate()
                await self._finish(Stage.REFUSED, [refused.reason])
                return "finished"
            aid = m.AidReserved.model_validate_json(got.data)
            self._rescreens += 1
            if self._rescreens > MAX_REALLOCATIONS:
                await self._compensate()
                await self._finish(Stage.FAILED, [f"aid screened again too often: {aid.reason}"])
                return "finished"
            self._set_aid(aid)
            self._status.reasons = [f"screened again at the grant: {aid.reason}"]
            self._terms, self._status.terms_sha256, self._status.acceptance = None, None, None
            self._decision = None  # the old text's acceptance does not carry over
            await self._notify(
                "applicant",
                "aid_rescreened",
                f"Before your voucher could be issued: {aid.reason}. New terms follow.",
            )
            agreed = await self._agree(inp, self._status.allocation, aid)
            if agreed != "accepted":
                return agreed
            await self._enter(Stage.ISSUING)
            if self._status.acceptance is not None:
                await self._send(
                    topics.CHARTER_COMMANDS,
                    m.ACCEPTANCE_RECORDED,
                    "acceptance" + self._rescreened(),
                    self._status.acceptance,
                )

    def _rescreened(self) -> str:
        """Commands repeated after a re-screening at the grant need new event ids."""
        return f"-rescreen{self._rescreens}" if self._rescreens else ""

    async def _deliver(self, inp: ApplicationInput) -> str:
        """8. Facilities deliver and the voucher pays, until it is used up, expires, loses its
        capacity or is cancelled: "closed", "finished" or "reallocate"."""
        lines = self._status.allocation
        valid_until = workflow.now() + timedelta(seconds=inp.voucher_validity_seconds)
        progress = DeliveryProgress(
            valid_until=valid_until,
            units_booked=sum(line.units for line in lines),
            voucher_eur=self._status.aid.voucher_eur if self._status.aid else Decimal(0),
        )
        self._status.delivery = progress
        await self._enter(Stage.VOUCHER_ISSUED)
        await self._notify(
            "applicant",
            "voucher_issued",
            f"{self._status.reasons[0]}, valid until {valid_until:%Y-%m-%d}: book your visits "
            "with the facilities.",
            valid_until,
        )
        for facility_id in sorted({line.facility_id for line in lines}):
            booked = ", ".join(
                f"{line.units} {line.unit}(s) of {line.service_type} in slot {line.slot_id}"
                for line in lines
                if line.facility_id == facility_id
            )
            await self._notify(
                "facility",
                "booking_confirmed",
                f"booked under voucher {self._status.voucher_id}: {booked}. Report each "
                "delivery on loket.facility.capacity.v1 (eu.loket.facility.delivery.v1).",
                valid_until,
                facility_id=facility_id,
            )

        def woken() -> bool:
            return bool(
                self._inbox.get(m.DELIVERY_RECORDED)
                or self._inbox.get(m.ALLOCATION_INVALIDATED)
                or self._cancelled is not None
            )

        why: str | None = None
        while why is None:
            try:
                await self._wait(
                    woken, within=max(valid_until - workflow.now(), timedelta(seconds=1))
                )
            except TimeoutError:
                why = f"expired on {valid_until:%Y-%m-%d}"
                break
            if self._inbox.get(m.DELIVERY_RECORDED):
                await self._redeem(self._inbox[m.DELIVERY_RECORDED].pop(0))
                if progress.units_delivered >= progress.units_booked:
                    why = "fully used"
            elif self._inbox.get(m.ALLOCATION_INVALIDATED):
                lost = m.AllocationInvalidated.model_validate_json(
                    self._inbox[m.ALLOCATION_INVALIDATED].pop(0).data
                )
                self._booked = False  # the allocation service released the booking itself
                if progress.units_delivered == 0:
                    # Nothing used yet: void this voucher and offer another bundle.
                    await self._end_voucher(f"voided, capacity withdrawn: {lost.reason}")
                    self._status.voucher_id, self._status.delivery = None, None
                    return await self._reallocate(lost.reason)
                why = f"ended early, capacity withdrawn: {lost.reason}"
            else:
                why = self._cancelled_reason()
        await self._end_voucher(why)
        if self._cancelled is not None:
            await self._finish(Stage.CANCELLED, [self._cancelled_reason()])
            return "finished"
        return "closed"

    async def _redeem(self, event: ServiceEvent) -> None:
        recorded = m.DeliveryRecorded.model_validate_json(event.data)
        redeemed = await self._ask(
            topics.VOUCHERS_COMMANDS,
            m.REDEEM_REQUESTED,
            f"redeem-{recorded.delivery_id}",
            m.Redemption(
                application_id=recorded.application_id,
                delivery_id=recorded.delivery_id,
                units=recorded.units,
                market_value_eur=recorded.market_value_eur,
            ),
            m.VoucherRedeemed,
            m.VOUCHER_REDEEMED,
            cancellable=False,
        )
        progress = self._status.delivery
        assert progress is not None
        progress.units_delivered = recorded.units_delivered_total
        progress.redeemed_eur = redeemed.redeemed_total_eur
        if progress.last_delivery_at is None or recorded.delivered_at > progress.last_delivery_at:
            progress.last_delivery_at = recorded.delivered_at

    async def _end_voucher(self, why: str) -> None:
        """Undelivered units back to the facilities, deliveries recorded until then paid, the
        voucher closed with the aid corrected. Booking first: once it is closed no delivery can
        be recorded any more, so every recorded one is already in the inbox (same partition)."""
        app_id = self._inp.application_id
        if self._booked:
            closed = await self._ask(
                topics.ALLOCATION_COMMANDS,
                m.BOOKING_CLOSE_REQUESTED,
                "close-booking",
                m.BookingClose(application_id=app_id, reason=why),
                m.BookingClosed,
                m.BOOKING_CLOSED,
                cancellable=False,
            )
            self._booked = False
            if closed.units_released:
                for facility_id in sorted({line.facility_id for line in self._status.allocation}):
                    await self._notify(
                        "facility",
                        "booking_ended",
                        f"voucher {self._status.voucher_id} {why}: undelivered units are "
                        "free again.",
                        facility_id=facility_id,
                    )
        while self._inbox.get(m.DELIVERY_RECORDED):
            await self._redeem(self._inbox[m.DELIVERY_RECORDED].pop(0))
        if self._voucher_active:
            closed_voucher = await self._ask(
                topics.VOUCHERS_COMMANDS,
                m.VOUCHER_CLOSE_REQUESTED,
                "close-voucher",
                m.VoucherClose(application_id=app_id, reason=why),
                m.VoucherClosed,
                m.VOUCHER_CLOSED,
                cancellable=False,
            )
            self._voucher_active = False
            progress = self._status.delivery
            if progress is not None:
                progress.closed_reason = closed_voucher.reason
                progress.released_eur = closed_voucher.released_eur
                progress.aid_recorded_eur = closed_voucher.aid_recorded_eur
            if self._status.aid is not None:
                self._status.aid.aid_element_eur = closed_voucher.aid_recorded_eur

    async def _report_and_close(self, inp: ApplicationInput) -> None:
        """9. The access report is due a set time after the last delivery; then closure."""
        progress = self._status.delivery
        assert progress is not None
        if progress.units_delivered == 0 or progress.last_delivery_at is None:
            await self._finish(
                Stage.CLOSED,
                [f"nothing delivered: {progress.closed_reason or 'voucher closed'}"],
            )
            return
        due = progress.last_delivery_at + timedelta(seconds=inp.access_report_seconds)
        self._status.report_due = due
        await self._enter(Stage.REPORT_DUE)
        await self._notify(
            "applicant",
            "access_report_due",
            f"{progress.units_delivered} of {progress.units_booked} unit(s) delivered: "
            "tell us what the access gave you.",
            due,
        )
        try:
            await self._wait(
                lambda: self._status.access_report is not None or self._cancelled is not None,
                within=max(due - workflow.now(), timedelta(seconds=1)),
            )
        except TimeoutError:
            await self._notify(
                "manager", "access_report_overdue", f"no access report by {due:%Y-%m-%d}"
            )
            await self._finish(
                Stage.CLOSED,
                [f"closed without the access report due {due:%Y-%m-%d %H:%M} UTC"],
            )
            return
        if self._status.access_report is None:  # cancelled: nothing is held any more
            await self._finish(Stage.CANCELLED, [self._cancelled_reason()])
            return
        report = self._status.access_report
        assert report.submitted_at is not None
        await self._finish(
            Stage.CLOSED, [f"access report received {report.submitted_at:%Y-%m-%d %H:%M} UTC"]
        )

    async def _reallocate(self, reason: str) -> str:
        """Capacity under the offer was withdrawn: give the aid back, offer a new bundle."""
        self._holding = False
        await self._compensate()
        self._status.reasons = [f"re-allocating: {reason}"]
        self._terms, self._status.terms_sha256, self._status.acceptance = None, None, None
        self._status.acceptance_deadline = None
        self._decision = None  # an acceptance of the old text does not carry over
        self._attempt += 1
        if self._attempt > MAX_REALLOCATIONS:
            await self._finish(
                Stage.FAILED, [f"capacity withdrawn {self._attempt} times; last: {reason}"]
            )
            return "finished"
        if workflow.patched("delivery-v1"):
            await self._notify(
                "applicant",
                "reallocating",
                f"{reason}. We are looking for another bundle; new terms will follow.",
            )
        return "reallocate"

    async def _offer(
        self, inp: ApplicationInput, decided: m.EligibilityDecided, today: date
    ) -> str:
        """Hold, screen, draft terms and wait for the applicant: "accepted", "finished" (a
        terminal stage was set) or "reallocate" (capacity under the hold was withdrawn)."""
        app_id = inp.application_id
        # 3. allocation hold
        await self._enter(Stage.ALLOCATION)
        compensation_first = workflow.patched("compensation-first-v1")
        if compensation_first:
            # Registered before the step: a cancellation while the hold is on its way still
            # releases it (a release of nothing is harmless, and follows the hold in order).
            self._holding = True
        hold = await self._send(
            topics.ALLOCATION_COMMANDS,
            m.HOLD_REQUESTED,
            "hold",
            m.HoldRequested(
                application_id=app_id,
                applicant_workplace_country=inp.applicant.workplace_country,
                needs=inp.needs,
                hold_ttl_seconds=inp.hold_ttl_seconds,
            ),
        )
        held = await self._receive(m.HOLD_PLACED, m.HOLD_FAILED, resend=[hold])
        if held.type == m.HOLD_FAILED:
            self._holding = False
            failed = m.HoldFailed.model_validate_json(held.data)
            if self._attempt and workflow.patched("tell-why-reallocation-failed-v1"):
                await self._notify(
                    "applicant",
                    "reallocation_failed",
                    f"No other bundle could replace the withdrawn capacity: {failed.reason}. "
                    "Everything held for you has been released.",
                )
            await self._finish(Stage.UNALLOCATABLE, [failed.reason])
            return "finished"
        self._holding = True
        placed = m.HoldPlaced.model_validate_json(held.data)
        self._status.allocation = placed.lines
        if workflow.info().typed_search_attributes.get(STAGE_KEY) is not None:
            countries = sorted({line.country for line in placed.lines})
            workflow.upsert_search_attributes([FACILITY_COUNTRIES_KEY.value_set(countries)])

        # 4. state aid + budget
        await self._enter(Stage.SCREENING)
        if compensation_first:
            self._reserved = True
        market_value = sum((line.market_value_eur for line in placed.lines), Decimal(0))
        screening = await self._send(
            topics.VOUCHERS_COMMANDS,
            m.SCREENING_REQUESTED,
            "screening",
            m.ScreeningRequested(
                application_id=app_id,
                undertaking_id=inp.applicant.undertaking_id,
                linked_undertakings=_single_undertaking(inp, decided),
                declared_prior_aid=inp.applicant.declared_prior_aid,
                call_id=inp.call_id,
                priority_area=inp.priority_area,
                market_value_eur=market_value,
                applicant_payment_eur=inp.applicant_payment_eur,
                as_of=today,
                sme=decided.sme_category != "large",
                hold_ttl_seconds=inp.hold_ttl_seconds,
                excluded_instruments=decided.excluded_instruments,
                scheme_version=inp.scheme_version,
            ),
        )
        screened = await self._receive(m.AID_RESERVED, m.SCREENING_REFUSED, resend=[screening])
        if screened.type == m.SCREENING_REFUSED:
            refused = m.ScreeningRefused.model_validate_json(screened.data)
            await self._compensate()
            stage = (
                Stage.MANUAL_REVIEW
                if refused.code == "manual_review" and not workflow.patched("manager-review-v1")
                else Stage.REFUSED
            )
            await self._finish(stage, [refused.reason])
            return "finished"
        self._reserved = True
        aid = m.AidReserved.model_validate_json(screened.data)
        self._set_aid(aid)
        return await self._agree(inp, placed.lines, aid)

    def _set_aid(self, aid: m.AidReserved) -> None:
        self._status.aid = AidSummary(
            instrument=aid.instrument,
            intensity=aid.intensity,
            aid_element_eur=aid.aid_element_eur,
            voucher_eur=aid.voucher_eur,
            co_payment_eur=aid.co_payment_eur,
            reason=aid.reason,
        )

    async def _agree(
        self, inp: ApplicationInput, lines: list[m.AllocatedLine], aid: m.AidReserved
    ) -> str:
        """5.-6. Terms for this bundle and aid, and the applicant's answer: "accepted",
        "finished" or "reallocate"."""
        app_id = inp.application_id
        again = self._rescreened()
        # 5. terms
        await self._enter(Stage.TERMS)
        rendered = await self._ask(
            topics.CHARTER_COMMANDS,
            m.TERMS_REQUESTED,
            "terms" + again,
            m.TermsRequested(
                application_id=app_id,
                applicant_name=inp.applicant.name,
                applicant_country=inp.applicant.country,
                lines=lines,
                instrument=aid.instrument,
                aid_element_eur=aid.aid_element_eur,
                voucher_eur=aid.voucher_eur,
                co_payment_eur=aid.co_payment_eur,
                language=inp.language,
            ),
            m.TermsRendered,
            m.TERMS_RENDERED,
        )
        self._terms = Terms(
            application_id=app_id,
            template_id=rendered.template_id,
            template_version=rendered.template_version,
            text=rendered.text,
            sha256=rendered.sha256,
            language=rendered.language,
            documents=rendered.documents,
        )
        self._status.terms_sha256 = rendered.sha256

        # 6. acceptance, raced against the deadline
        window = timedelta(seconds=inp.acceptance_window_seconds)
        self._status.acceptance_deadline = workflow.now() + window
        await self._enter(Stage.AWAITING_ACCEPTANCE)
        reallocating = workflow.patched("reallocate-on-invalidation-v1")

        def decided_or_invalidated() -> bool:
            return (
                self._decision is not None
                or self._cancelled is not None
                or (reallocating and bool(self._inbox.get(m.ALLOCATION_INVALIDATED)))
            )

        try:
            if workflow.patched("acceptance-reminder-v1"):
                await self._notify(
                    "applicant",
                    "terms_ready",
                    "Your agreement is ready: read it and accept or decline.",
                    self._status.acceptance_deadline,
                )
                try:
                    await self._wait(decided_or_invalidated, within=window / 2)
                except TimeoutError:
                    await self._notify(
                        "applicant",
                        "acceptance_reminder",
                        "Half of the time to accept has passed.",
                        self._status.acceptance_deadline,
                    )
                    await self._wait(decided_or_invalidated, within=window / 2)
            else:
                await self._wait(decided_or_invalidated, within=window)
        except TimeoutError:
            await self._compensate()
            await self._finish(
                Stage.EXPIRED,
                [
                    "terms not accepted by the deadline "
                    f"{self._status.acceptance_deadline:%Y-%m-%d %H:%M} UTC"
                ],
            )
            return "finished"
        if self._cancelled is not None and self._decision is None:
            raise Cancelled()
        if self._decision is None:
            # A facility withdrew capacity under the hold: the allocation service released the
            # bundle; give the aid back and offer a new bundle with new terms. The acceptance of
            # the old text, if any, does not carry over: a new hash needs a new acceptance.
            lost = m.AllocationInvalidated.model_validate_json(
                self._inbox[m.ALLOCATION_INVALIDATED].pop(0).data
            )
            return await self._reallocate(lost.reason)
        if self._decision == "decline":
            await self._compensate()
            await self._finish(
                Stage.DECLINED,
                [
                    "applicant declined the terms"
                    + (f": {self._decline_reason}" if self._decline_reason else "")
                ],
            )
            return "finished"

        return "accepted"

    async def _manager_review(self, inp: ApplicationInput, reasons: list[str]) -> bool:
        """Wait for a programme manager; escalate once when the deadline passes. True when
        approved; on rejection the application ends ineligible with the manager's reason."""
        await self._enter(Stage.MANUAL_REVIEW)
        self._status.reasons = reasons
        escalation = timedelta(seconds=inp.review_escalation_seconds)
        await self._notify(
            "manager", "review_needed", "; ".join(reasons), workflow.now() + escalation
        )

        def decided() -> bool:
            return self._review is not None or self._cancelled is not None

        try:
            await self._wait(decided, within=escalation)
        except TimeoutError:
            await self._notify(
                "manager",
                "review_escalated",
                f"no decision within {escalation}: " + "; ".join(reasons),
            )
            await self._wait(decided)
        if self._review is None:
            raise Cancelled()
        if not self._review.approve:
            await self._finish(
                Stage.INELIGIBLE,
                [f"rejected by programme manager {self._review.manager}: {self._review.reason}"],
            )
            return False
        self._status.reasons = [
            f"approved by programme manager {self._review.manager}: {self._review.reason}"
        ]
        return True

    async def _notify(
        self,
        audience: str,
        kind: str,
        message: str,
        due: datetime | None = None,
        *,
        facility_id: str | None = None,
    ) -> None:
        self._notices += 1
        await self._send(
            topics.NOTIFICATIONS,
            NOTIFICATION,
            f"notice-{self._notices}",
            Notification(
                application_id=self._inp.application_id,
                audience=audience,
                kind=kind,
                message=message,
                due=due,
                facility_id=facility_id,
            ),
            queue=True,
        )

    # ---- helpers ---------------------------------------------------------------------------

    async def _enter(self, stage: Stage) -> None:
        self._status.stage = stage
        self._status.history.append(StageChange(stage=stage, at=workflow.now()))
        # Only when started with search attributes (the launcher registers them; tests may not).
        if workflow.info().typed_search_attributes.get(STAGE_KEY) is not None:
            workflow.upsert_search_attributes([STAGE_KEY.value_set(str(stage))])
        if workflow.patched("stage-events-v1"):  # for read models (the gateway's listings)
            inp = self._inp
            await self._send(
                topics.APPLICATION_EVENTS,
                STAGE_CHANGED,
                f"stage-{len(self._status.history)}",
                StageChanged(
                    application_id=inp.application_id,
                    sequence=len(self._status.history),
                    stage=stage,
                    at=workflow.now(),
                    applicant_name=inp.applicant.name,
                    applicant_country=inp.applicant.country,
                    priority_area=inp.priority_area,
                    call_id=inp.call_id,
                    facility_countries=sorted({line.country for line in self._status.allocation}),
                    voucher_id=self._status.voucher_id,
                    reasons=self._status.reasons,
                ),
                per_attempt=False,
                queue=True,
            )

    async def _finish(self, stage: Stage, reasons: list[str]) -> None:
        # VOUCHER_ISSUED ended applications before delivery tracking (delivery-v1)
        assert stage in TERMINAL_STAGES or stage == Stage.VOUCHER_ISSUED
        self._status.reasons = reasons
        await self._enter(stage)

    def _cancelled_reason(self) -> str:
        assert self._cancelled is not None
        by = f" by {self._cancelled.by}" if self._cancelled.by else ""
        return f"cancelled{by}: {self._cancelled.reason}"

    async def _send(
        self,
        topic: str,
        type_: str,
        step: str,
        body: BaseModel,
        *,
        per_attempt: bool = True,
        queue: bool = False,
    ) -> SendCommand:
        """Publish one event; with `queue`, only queue it for the next send or wait."""
        app_id = self._inp.application_id
        if self._attempt and per_attempt:
            step = f"{step}#{self._attempt}"  # a new offer's commands are new events
        command = SendCommand(
            topic=topic,
            type=type_,
            event_id=f"{app_id}/{step}",
            correlation_id=app_id,
            body_json=body.model_dump_json(),
        )
        if self._batching:
            self._queued.append(command)
            if not queue:
                await self._flush()
            return command
        await workflow.execute_activity(
            "send_command",
            command,
            # One Kafka send: a worker that died mid-send is noticed and retried quickly.
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=SEND_RETRY,
        )
        return command

    async def _ask(
        self,
        topic: str,
        type_: str,
        step: str,
        body: BaseModel,
        answer: type[AnswerT],
        answer_type: str,
        *,
        cancellable: bool = True,
    ) -> AnswerT:
        """A command and the one answer it gets."""
        command = await self._send(topic, type_, step, body)
        received = await self._receive(answer_type, cancellable=cancellable, resend=[command])
        return answer.model_validate_json(received.data)

    async def _flush(self) -> None:
        if not self._queued:
            return
        batch, self._queued = self._queued, []
        await workflow.execute_activity(
            "send_commands",
            SendCommands(commands=batch),
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=SEND_RETRY,
        )

    async def _wait(self, condition: Callable[[], bool], within: timedelta | None = None) -> None:
        """Wait durably, after sending whatever is queued (a stage event must not wait
        with the application for days)."""
        await self._flush()
        await workflow.wait_condition(condition, timeout=within)

    async def _receive(
        self, *types: str, cancellable: bool = True, resend: list[SendCommand] | None = None
    ) -> ServiceEvent:
        def arrived() -> bool:
            return any(self._inbox.get(t) for t in types) or (
                cancellable and self._cancelled is not None
            )

        try:
            if self._asks_again and resend:
                await self._ask_again(arrived, resend, " or ".join(types))
            else:
                await self._wait(arrived, within=SERVICE_REPLY_TIMEOUT)
        except TimeoutError:
            raise ServiceTimeout(
                f"no answer of type {' or '.join(types)} within {SERVICE_REPLY_TIMEOUT}"
            ) from None
        for t in types:
            if self._inbox.get(t):
                return self._inbox[t].pop(0)
        raise Cancelled()

    async def _ask_again(
        self, arrived: Callable[[], bool], commands: list[SendCommand], awaited: str
    ) -> None:
        """ask-again-v1: no answer within the resend interval means the command or its answer
        may be lost (a broker that lost data, a service restored from backup): send it again
        with the same event id, with backoff, until the stage's deadline. The service's inbox
        drops the duplicate and publishes its answer again. A manager hears of an application
        that waits longer than `stuck_notice_seconds`."""
        waited = timedelta(0)
        interval = timedelta(seconds=self._inp.resend_after_seconds)
        told = False
        while True:
            step = min(interval, SERVICE_REPLY_TIMEOUT - waited)
            try:
                await self._wait(arrived, within=step)
                return
            except TimeoutError:
                waited += step
            if waited >= SERVICE_REPLY_TIMEOUT:
                raise
            if not told and waited >= timedelta(seconds=self._inp.stuck_notice_seconds):
                told = True
                await self._notify(
                    "manager",
                    "application_stuck",
                    f"{self._inp.application_id} has waited {waited} for {awaited} in stage "
                    f"{self._status.stage}; the command is being sent again.",
                )
            workflow.logger.warning("no %s after %s: sending again", awaited, waited)
            await workflow.execute_activity(
                "send_commands",
                SendCommands(commands=commands),
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=SEND_RETRY,
            )
            interval = min(interval * 2, MAX_RESEND_INTERVAL)

    async def _compensate(self) -> None:
        """Give back what this application holds, latest first: the voucher and its booking
        (unused part), else slot holds, aid headroom and budget. Every step is idempotent in
        its service and its flag is set before the step is asked for, so a worker that dies
        here redoes at most a harmless release."""
        app_id = self._inp.application_id
        if self._booked or self._voucher_active:
            await self._end_voucher(
                self._cancelled_reason() if self._cancelled is not None else "ended early"
            )
        release_hold = release_reservation = None
        if self._holding:
            release_hold = await self._send(
                topics.ALLOCATION_COMMANDS,
                m.RELEASE_REQUESTED,
                "release-hold",
                m.AllocationRef(application_id=app_id),
            )
        if self._reserved:
            release_reservation = await self._send(
                topics.VOUCHERS_COMMANDS,
                m.RESERVATION_RELEASE_REQUESTED,
                "release-reservation",
                m.VoucherRef(application_id=app_id),
            )
        if release_hold is not None:
            await self._receive(m.ALLOCATION_RELEASED, cancellable=False, resend=[release_hold])
            self._holding = False
        if release_reservation is not None:
            await self._receive(
                m.RESERVATION_RELEASED, cancellable=False, resend=[release_reservation]
            )
            self._reserved = False
