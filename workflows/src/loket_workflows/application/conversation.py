"""How the application talks: commands out through one local activity, answers in as signals,
durable waits, stage changes (each with the notices it implies).

Everything queued (commands, stage events, notices) goes out when the application next waits:
messages that leave together share one send. A send is a local activity: a retry sends the
same event ids again and the services' inboxes drop the copies (and answer again). A send
that carries a question waits a little for its answer and brings it back as its result
(answers.py): a quick service answers within the same workflow task, without a signal. The
search attributes are written only where the application waits or ends, not at every step.
A wait for people whose stage rests on such an answer announces it in a regular activity
instead, once the answer is in history (`_announce_once_recorded`).

Replay safety with local activities: a signalled answer may be seen in the same activation
as the send's result (first run) or after it (replay). So a wait issues everything of its own
(the stage shown, its timer) before the send, and nothing between the send's result and the
answer; the commands that follow the answer are then the same in both. A question is the
exception: its send comes first, because its result may be the answer (see `wait`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from loket_contracts import commands as c
    from loket_contracts.application import (
        SA_FACILITY_COUNTRIES,
        SA_STAGE,
        TERMINAL_STAGES,
        Notification,
        ServiceEvent,
        Stage,
        StageChange,
        StageChanged,
    )

    from loket_workflows.application import notices
    from loket_workflows.application.dto import SendCommand, SendCommands, SendResult
    from loket_workflows.application.state import ApplicationState, Cancelled, ServiceTimeout

# How long a service may take to answer before the application fails over to compensation.
# Generous: a service may be down for a deploy or a broker pause.
SERVICE_REPLY_TIMEOUT = timedelta(hours=6)
MAX_RESEND_INTERVAL = timedelta(minutes=15)
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=30)
)
STAGE_KEY = SearchAttributeKey.for_keyword(SA_STAGE)
FACILITY_COUNTRIES_KEY = SearchAttributeKey.for_keyword_list(SA_FACILITY_COUNTRIES)

AnswerT = TypeVar("AnswerT", bound=BaseModel)
# A question in the outbox and the types that answer it.
Question = tuple[SendCommand, tuple[str, ...]]


ANNOUNCEMENTS = frozenset({c.STAGE.type, c.NOTICE.type})  # for people, not services


class Conversation:
    def __init__(self, state: ApplicationState) -> None:
        self.s = state
        # A send may bring its question's answer back (answers.py), and a wait for people
        # announces its stage only once the answers it rests on are in history (`wait`).
        # Only runs of the retiring ApplicationV2 may have started before either (v2.py).
        self.answers_in_send = True
        self.announce_recorded = True
        # History's length in the workflow task where a send last brought an answer back:
        # while it is still that length, the answer is not in history yet.
        self.answered_at: int | None = None

    # ---- out ---------------------------------------------------------------------------

    def queue(
        self, command: c.Command, step: str, body: BaseModel, *, per_offer: bool = True
    ) -> SendCommand:
        assert isinstance(body, command.body), (command.type, type(body))
        sent = SendCommand(
            topic=command.topic,
            type=command.type,
            event_id=self.s.event_id(step, per_offer=per_offer),
            correlation_id=self.s.app_id,
            body_json=body.model_dump_json(),
        )
        self.s.outbox.append(sent)
        return sent

    async def flush(self, question: Question | None = None) -> bool:
        """Send what is queued: True when the answer to `question` came back with it."""
        if not self.s.outbox:
            return False
        batch, self.s.outbox = self.s.outbox, []
        return await self._publish(batch, question)

    async def _publish(self, batch: list[SendCommand], question: Question | None) -> bool:
        send = SendCommands(commands=batch)
        if question is not None and question[0] in batch:
            send.answer_to, send.answer_types = question[0].event_id, list(question[1])
        sent = await workflow.execute_local_activity(
            "send_commands",
            send,
            # One Kafka round trip and a short wait for the answer; a broker away for the
            # whole stage deadline fails the step.
            start_to_close_timeout=timedelta(seconds=10),
            schedule_to_close_timeout=SERVICE_REPLY_TIMEOUT,
            retry_policy=SEND_RETRY,
            result_type=SendResult,
        )
        if sent is None or sent.answer is None:  # None: a run from before
            return False
        self.s.receive(sent.answer)
        self.answered_at = workflow.info().get_current_history_length()
        return True

    def _announcing_unrecorded(self) -> bool:
        """Queued announcements resting on an answer not yet in history."""
        unrecorded = self.answered_at == workflow.info().get_current_history_length()
        return unrecorded and any(out.type in ANNOUNCEMENTS for out in self.s.outbox)

    async def _announce_once_recorded(self) -> None:
        """A send's answer is in history only when the workflow task ends; a worker that lost
        the run before then rebuilds it without: "terms not ready" just after "accept them".
        So the commands leave now (whoever sees the stage may act on them), the announcements
        in a regular activity, whose scheduling ends the task (a 1 ms timer would too, but
        the dev server fires it about a second late)."""
        commands = [out for out in self.s.outbox if out.type not in ANNOUNCEMENTS]
        announcements = [out for out in self.s.outbox if out.type in ANNOUNCEMENTS]
        self.s.outbox = []
        if commands:
            await self._publish(commands, None)
        await workflow.execute_activity(
            "send_commands",
            SendCommands(commands=announcements),
            start_to_close_timeout=timedelta(seconds=10),
            schedule_to_close_timeout=SERVICE_REPLY_TIMEOUT,
            retry_policy=SEND_RETRY,
            result_type=SendResult,
        )

    def notify(
        self,
        audience: str,
        kind: str,
        message: str,
        due: datetime | None = None,
        *,
        facility_id: str | None = None,
    ) -> None:
        self.tell(notices.notice(self.s, audience, kind, message, due, facility_id))

    def tell(self, notice: Notification) -> None:
        self.s.notices += 1
        self.queue(c.NOTICE, f"notice-{self.s.notices}", notice)

    # ---- stages --------------------------------------------------------------------------

    def enter(self, stage: Stage) -> None:
        status, inp = self.s.status, self.s.inp
        status.stage = stage
        status.history.append(StageChange(stage=stage, at=workflow.now()))
        changed = StageChanged(
            application_id=inp.application_id,
            sequence=len(status.history),
            stage=stage,
            at=workflow.now(),
            applicant_name=inp.applicant.name,
            applicant_country=inp.applicant.country,
            priority_area=inp.priority_area,
            call_id=inp.call_id,
            facility_countries=sorted({line.country for line in status.allocation}),
            voucher_id=status.voucher_id,
            reasons=status.reasons,
            terms_sha256=status.terms_sha256,
            terms=self.s.terms if stage == Stage.AWAITING_ACCEPTANCE else None,
        )
        self.queue(c.STAGE, f"stage-{len(status.history)}", changed, per_offer=False)
        for notice in notices.on_entering(self.s, stage):
            self.tell(notice)

    def finish(self, stage: Stage, reasons: list[str]) -> None:
        assert stage in TERMINAL_STAGES
        self.s.status.reasons = reasons
        self.enter(stage)

    def show_stage(self) -> None:
        """Operators find waiting and ended applications by stage in Temporal's visibility.
        Only when started with search attributes (the gateway registers them; tests may not)."""
        stage = str(self.s.status.stage)
        if self.s.shown_stage == stage:
            return
        if workflow.info().typed_search_attributes.get(STAGE_KEY) is None:
            return
        self.s.shown_stage = stage
        updates: list[SearchAttributeUpdate] = [STAGE_KEY.value_set(stage)]
        if self.s.status.allocation:
            countries = sorted({line.country for line in self.s.status.allocation})
            updates.append(FACILITY_COUNTRIES_KEY.value_set(countries))
        workflow.upsert_search_attributes(updates)

    # ---- in ------------------------------------------------------------------------------

    async def wait(
        self,
        condition: Callable[[], bool],
        within: timedelta | None = None,
        *,
        settle: bool,
        question: Question | None = None,
    ) -> None:
        """Wait durably after sending what is queued (a stage event must not wait with the
        application for days). `settle`: a wait for people or time, shown to operators.
        `question`: the queued command whose answer the send may bring back; it is sent
        before the timer starts, and an answer that comes back with it ends the wait at once.
        (A timer started before a local activity and cancelled in reaction to its result
        does not replay when a query split the workflow task between the two: sdk-core
        1.35, README "answers in the send".) TimeoutError when `within` passes first."""
        if settle:
            self.show_stage()
        if not self.answers_in_send:
            question = None
        elif question is not None and await self.flush(question):
            return
        # Decided before anything is sent, so that a replay decides the same.
        record_first = settle and self.announce_recorded and self._announcing_unrecorded()
        timer = asyncio.ensure_future(asyncio.sleep(within.total_seconds())) if within else None
        try:
            if record_first:
                await self._announce_once_recorded()
            await self.flush()
            await workflow.wait_condition(lambda: condition() or bool(timer and timer.done()))
        finally:
            if timer is not None and not timer.done():
                timer.cancel()
        if not condition():
            raise TimeoutError()

    async def ask(
        self,
        command: c.Command,
        step: str,
        body: BaseModel,
        answer: type[AnswerT],
        *,
        cancellable: bool = True,
    ) -> AnswerT:
        """A command with exactly one kind of answer."""
        assert len(command.answers) == 1, command.type
        got = await self.ask_any(command, step, body, cancellable=cancellable)
        return answer.model_validate_json(got.data)

    async def ask_any(
        self, command: c.Command, step: str, body: BaseModel, *, cancellable: bool = True
    ) -> ServiceEvent:
        sent = self.queue(command, step, body)  # sent by the wait for its answer
        return await self.receive(command.answers, [sent], cancellable=cancellable)

    async def receive(
        self, types: tuple[str, ...], resend: list[SendCommand], *, cancellable: bool = True
    ) -> ServiceEvent:
        def arrived() -> bool:
            return self.s.has(*types) or (cancellable and self.s.cancelled is not None)

        try:
            await self._ask_again(arrived, resend, types)
        except TimeoutError:
            raise ServiceTimeout(
                f"no answer of type {' or '.join(types)} within {SERVICE_REPLY_TIMEOUT}"
            ) from None
        for t in types:
            if (event := self.s.take(t)) is not None:
                return event
        raise Cancelled()

    async def _ask_again(
        self, arrived: Callable[[], bool], commands: list[SendCommand], types: tuple[str, ...]
    ) -> None:
        """No answer within the resend interval: the command or its answer may be lost (a
        broker that lost data, a service restored from backup). Send it again with the same
        event id, with backoff, until the stage's deadline; the service's inbox drops the
        copy and answers again. A manager hears of an application that waits too long."""
        waited = timedelta(0)
        interval = timedelta(seconds=self.s.inp.resend_after_seconds)
        told = False
        awaited = " or ".join(types)
        question = (commands[0], types) if len(commands) == 1 else None
        while True:
            step = min(interval, SERVICE_REPLY_TIMEOUT - waited)
            try:
                await self.wait(
                    arrived, within=step, settle=waited > timedelta(0), question=question
                )
                return
            except TimeoutError:
                waited += step
            if waited >= SERVICE_REPLY_TIMEOUT:
                raise TimeoutError()  # (a bare raise here has no exception left to raise)
            if not told and waited >= timedelta(seconds=self.s.inp.stuck_notice_seconds):
                told = True
                self.notify(
                    "manager",
                    "application_stuck",
                    f"{self.s.app_id} has waited {waited} for {awaited} in stage "
                    f"{self.s.status.stage}; the command is being sent again.",
                )
            workflow.logger.warning("no %s after %s: sending again", awaited, waited)
            self.s.outbox.extend(commands)  # by the next wait, after its timer
            interval = min(interval * 2, MAX_RESEND_INTERVAL)
