"""`ApplicationV3`: one workflow per application, from submission to closure.

Eligibility → offer (hold, screening, terms, acceptance) → issuance → delivery → report. The
steps live in `steps/`, the state in one dataclass (`state.py`), the talking in
`conversation.py`. It carries no `patched` branch: the types before it (`ApplicationV2` in
v2.py, `ApplicationWorkflow` in v1.py) stay registered until their last runs end (README:
rolling out a change).
"""

# No `from __future__ import annotations`: the sandbox runs this module again for every new
# run, and its handlers' decorators then had to evaluate every annotation from a string.

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from loket_contracts.application import (
        QUERY_DEADLINES,
        QUERY_STATUS,
        QUERY_TERMS,
        SIGNAL_SERVICE_EVENT,
        TERMINAL_STAGES,
        UPDATE_ACCEPT_TERMS,
        UPDATE_CANCEL,
        UPDATE_DECLINE_TERMS,
        UPDATE_REVIEW,
        UPDATE_SUBMIT_REPORT,
        WORKFLOW_NAME,
        AcceptanceRecord,
        AccessReport,
        ApplicationInput,
        ApplicationStatus,
        Cancellation,
        ManagerDecision,
        ServiceEvent,
        Stage,
        Terms,
        TermsDecision,
    )

    from loket_workflows.application.conversation import Conversation
    from loket_workflows.application.decisions import (
        authorise,
        check_terms_decision,
        record,
        wrong_stage,
    )
    from loket_workflows.application.state import (
        ApplicationState,
        Cancelled,
        Next,
        ServiceTimeout,
    )
    from loket_workflows.application.steps import closing, delivery, eligibility, issuance, offer
    from loket_workflows.application.steps.giving_back import compensate


@workflow.defn(name=WORKFLOW_NAME)
class ApplicationV3:
    @workflow.init
    def __init__(self, inp: ApplicationInput) -> None:
        self.s = ApplicationState.submitted(inp)
        self.conv = Conversation(self.s)

    @workflow.run
    async def run(self, inp: ApplicationInput) -> ApplicationStatus:
        return await self._live()

    async def _live(self) -> ApplicationStatus:
        try:
            await self._lifecycle()
        except ServiceTimeout as exc:
            await self._end_after_giving_back(Stage.FAILED, [str(exc)])
        except Cancelled:
            await self._end_after_giving_back(Stage.CANCELLED, [self.s.cancelled_reason()])
        self.conv.show_stage()  # before the last send: nothing between its result and the end
        await self.conv.flush()
        return self.s.status

    async def _end_after_giving_back(self, stage: Stage, reasons: list[str]) -> None:
        """Give back what is held, then end. A service that does not answer even that within
        its deadline ends the application as failed with what is still held, and a manager is
        told: nothing waits or retries for ever."""
        try:
            await compensate(self.conv)
        except ServiceTimeout as exc:
            held = ", ".join(sorted(self.s.held))
            why = f"could not give back ({held}): {exc}"
            self.conv.notify("manager", "compensation_incomplete", f"{self.s.app_id}: {why}")
            stage, reasons = Stage.FAILED, [*reasons, why]
        self.conv.finish(stage, reasons)

    async def _lifecycle(self) -> None:
        decided = await eligibility.decide(self.conv)
        if decided is None:
            return
        # Capacity withdrawn before anything was delivered means a new offer: new terms, a
        # new acceptance.
        while True:
            step = await offer.make(self.conv, decided)
            if step == Next.ON:
                step = await issuance.issue(self.conv)
            if step == Next.ON:
                step = await delivery.deliver(self.conv)
            if step == Next.ENDED:
                return
            if step == Next.ON:
                break
        await closing.report_and_close(self.conv)

    # ---- what the bridge and the gateway may send and ask ------------------------------

    @workflow.signal(name=SIGNAL_SERVICE_EVENT)
    def on_service_event(self, event: ServiceEvent) -> None:
        self.s.receive(event)

    @workflow.query(name=QUERY_STATUS)
    def status(self) -> ApplicationStatus:
        return self.s.status

    @workflow.query(name=QUERY_TERMS)
    def terms(self) -> Terms | None:
        return self.s.terms

    @workflow.query(name=QUERY_DEADLINES)
    def deadlines(self) -> dict[str, datetime]:
        return self.s.status.deadlines

    @workflow.update(name=UPDATE_ACCEPT_TERMS)
    def accept_terms(self, decision: TermsDecision) -> ApplicationStatus:
        s = self.s
        assert s.terms is not None
        s.answer = "accept"
        actor = record(s, decision.seal, "accept_terms", f"accepted {s.terms.sha256}")
        s.status.acceptance = AcceptanceRecord(
            application_id=s.app_id,
            terms_sha256=s.terms.sha256,
            template_id=s.terms.template_id,
            template_version=s.terms.template_version,
            language=s.terms.language,
            decided_by=decision.decided_by or (actor.name if actor else None),
            accepted_at=workflow.now(),
            request=decision.request,
            actor=actor,
        )
        return s.status

    @accept_terms.validator
    def _validate_accept(self, decision: TermsDecision) -> None:
        authorise(self.s, decision.seal, UPDATE_ACCEPT_TERMS, owner=True)
        check_terms_decision(self.s, decision)

    @workflow.update(name=UPDATE_DECLINE_TERMS)
    def decline_terms(self, decision: TermsDecision) -> ApplicationStatus:
        self.s.answer, self.s.decline_reason = "decline", decision.reason
        record(self.s, decision.seal, "decline_terms", decision.reason or "declined")
        return self.s.status

    @decline_terms.validator
    def _validate_decline(self, decision: TermsDecision) -> None:
        authorise(self.s, decision.seal, UPDATE_DECLINE_TERMS, owner=True)
        check_terms_decision(self.s, decision)

    @workflow.update(name=UPDATE_REVIEW)
    def review(self, decision: ManagerDecision) -> ApplicationStatus:
        verdict = "approved" if decision.approve else "rejected"
        actor = record(self.s, decision.seal, "review", f"{verdict}: {decision.reason}")
        self.s.review = decision.model_copy(
            update={"manager": actor.name if actor else decision.manager, "seal": None}
        )
        return self.s.status

    @review.validator
    def _validate_review(self, decision: ManagerDecision) -> None:
        authorise(self.s, decision.seal, UPDATE_REVIEW, manager=True)
        if self.s.status.stage != Stage.MANUAL_REVIEW or self.s.review is not None:
            raise wrong_stage(f"nothing to review in stage {self.s.status.stage}")

    @workflow.update(name=UPDATE_CANCEL)
    def cancel(self, cancellation: Cancellation) -> ApplicationStatus:
        actor = record(self.s, cancellation.seal, "cancel", cancellation.reason)
        self.s.cancelled = cancellation.model_copy(
            update={"by": cancellation.by or (actor.name if actor else None), "seal": None}
        )
        return self.s.status

    @cancel.validator
    def _validate_cancel(self, cancellation: Cancellation) -> None:
        authorise(self.s, cancellation.seal, UPDATE_CANCEL, manager=True, owner=True)
        stage = self.s.status.stage
        # While issuing, the cancellation waits: issuance runs to its end, then the voucher
        # and its booking are given back.
        if stage in TERMINAL_STAGES:
            raise wrong_stage(f"an application in stage {stage} can no longer be cancelled")
        if self.s.cancelled is not None:
            raise wrong_stage("the application is already being cancelled")

    @workflow.update(name=UPDATE_SUBMIT_REPORT)
    def submit_report(self, report: AccessReport) -> ApplicationStatus:
        actor = record(self.s, report.seal, "submit_report", "access report submitted")
        self.s.status.access_report = report.model_copy(
            update={
                "submitted_at": workflow.now(),
                "submitted_by": report.submitted_by or (actor.name if actor else None),
                "seal": None,
            }
        )
        return self.s.status

    @submit_report.validator
    def _validate_report(self, report: AccessReport) -> None:
        authorise(self.s, report.seal, UPDATE_SUBMIT_REPORT, owner=True)
        if self.s.status.stage != Stage.REPORT_DUE or self.s.status.access_report is not None:
            raise wrong_stage(f"no access report is due in stage {self.s.status.stage}")
