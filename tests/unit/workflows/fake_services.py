"""The services, the broker and the bridge in one fake that keeps a ledger of what each
application holds."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal
from typing import Any

from loket_contracts import commands
from loket_contracts import messages as m
from loket_contracts.application import (
    NOTIFICATION,
    SIGNAL_SERVICE_EVENT,
    STAGE_CHANGED,
    Notification,
    ServiceEvent,
    Stage,
    StageChanged,
)
from loket_workflows.application.dto import SendCommand, SendCommands, SendResult
from loket_workflows.application.workflow import ApplicationV3
from pydantic import BaseModel
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError

from tests.unit.workflows.replies import invalidated, reply


class Under:
    """The workflow type the current test runs, and how answers reach it: as signals (a
    bridge in another worker, or a send that stopped waiting), or as the result of the send
    that asked (the bridge in the worker that runs the send)."""

    workflow: Any = ApplicationV3
    answers_in_send = False


class FakeServices:
    """Stands in for Kafka + services + bridge: records commands, signals replies back, and
    keeps a ledger of what the application holds at each service, as the services would."""

    def __init__(
        self,
        client: Client,
        eligible: bool | None = True,
        pause_on: str | None = None,
        at_grant: str | None = None,
    ) -> None:
        self.client, self.eligible = client, eligible
        # The first issuance finds the de minimis headroom gone: "rescreened" into GBER
        # Art. 28 at 50 %, or "refused" (no instrument left).
        self.at_grant = at_grant
        self.sent: list[str] = []
        self.notices: list[str] = []
        self.held: set[str] = set()  # "hold" | "booking" | "reservation" | "voucher"
        self.redeemed = Decimal(0)
        # A command whose reply waits until `resume()`: the service is slow, not wrong.
        self.pause_on, self.paused = pause_on, asyncio.Event()
        self.pending: list[tuple[str, ServiceEvent]] = []
        # Like the services' inbox: a command seen before changes nothing, its answer is sent
        # again. `lose` drops the first answer to these command types (a broker lost it).
        self.seen_ids: set[str] = set()
        self.lose: dict[str, int] = {}
        self.resent: list[str] = []
        self.answered: dict[str, ServiceEvent] = {}
        self.stages: list[Stage] = []  # as told in stage events
        # The history's events (serialised) each time an applicant was told to accept terms.
        self.history_when_told: list[list[bytes]] = []

    def _book(self, cmd: SendCommand) -> None:
        """The effect of a command at its service, in arrival order like one partition."""
        take = {
            m.HOLD_REQUESTED: "hold",
            m.SCREENING_REQUESTED: "reservation",
        }
        give = {
            m.RELEASE_REQUESTED: ("hold", "booking"),
            m.RESERVATION_RELEASE_REQUESTED: ("reservation",),
            m.BOOKING_CLOSE_REQUESTED: ("booking",),
            m.VOUCHER_CLOSE_REQUESTED: ("voucher",),
        }
        if cmd.type in take:
            self.held.add(take[cmd.type])
        elif cmd.type == m.CONFIRM_REQUESTED and "hold" in self.held:
            self.held.discard("hold")
            self.held.add("booking")
        elif cmd.type == m.ISSUE_REQUESTED and "reservation" in self.held:
            self.held.discard("reservation")
            self.held.add("voucher")
        for what in give.get(cmd.type, ()):
            self.held.discard(what)

    @activity.defn(name="send_command")
    async def send_command(self, cmd: SendCommand) -> None:
        await self._take(cmd, hand_back=False)

    async def _take(self, cmd: SendCommand, hand_back: bool) -> ServiceEvent | None:
        """The service's answer, handed back to the send when `hand_back`, else signalled."""
        if cmd.event_id in self.seen_ids:
            self.resent.append(cmd.type)
            if cmd.type in self.answered and not self._lost(cmd.type):
                return await self._answer(cmd.correlation_id, self.answered[cmd.type], hand_back)
            return None
        self.seen_ids.add(cmd.event_id)
        self.sent.append(cmd.type)
        self._book(cmd)
        if cmd.type == STAGE_CHANGED:
            self.stages.append(StageChanged.model_validate_json(cmd.body_json).stage)
            if self.stages[-1] == Stage.AWAITING_ACCEPTANCE:
                handle = self.client.get_workflow_handle(cmd.correlation_id)
                history = await handle.fetch_history()
                self.history_when_told.append([e.SerializeToString() for e in history.events])
        if cmd.type == NOTIFICATION:
            self.notices.append(Notification.model_validate_json(cmd.body_json).kind)
        answer = self.answer(cmd)
        if answer is None:
            return None
        type_, body = answer
        assert type_ in commands.BY_TYPE[cmd.type].answers, (cmd.type, type_)  # as the registry
        event = ServiceEvent(
            event_id=f"{cmd.event_id}/reply", type=type_, data=body.model_dump_json()
        )
        if cmd.type == self.pause_on and not self.paused.is_set():
            self.pending.append((cmd.correlation_id, event))
            return None
        self.answered[cmd.type] = event
        if not self._lost(cmd.type):
            return await self._answer(cmd.correlation_id, event, hand_back)
        return None

    async def _answer(
        self, app_id: str, event: ServiceEvent, hand_back: bool
    ) -> ServiceEvent | None:
        if hand_back:
            return event
        await self.signal(app_id, event)
        return None

    def _lost(self, type_: str) -> bool:
        if self.lose.get(type_, 0) > 0:
            self.lose[type_] -= 1
            return True
        return False

    async def signal(self, app_id: str, event: ServiceEvent) -> None:
        await self.client.get_workflow_handle(app_id).signal(SIGNAL_SERVICE_EVENT, event)

    @activity.defn(name="send_commands")
    async def send_commands(self, batch: SendCommands) -> SendResult:
        result = SendResult()
        for cmd in batch.commands:
            hand_back = Under.answers_in_send and cmd.event_id == batch.answer_to
            answer = await self._take(cmd, hand_back)
            if answer is not None:
                assert answer.type in batch.answer_types, (answer.type, batch.answer_types)
                result.answer = answer
        return result

    def answer(self, cmd: SendCommand) -> tuple[str, BaseModel] | None:
        if cmd.type == m.ISSUE_REQUESTED and self.at_grant is not None:
            at_grant, self.at_grant = self.at_grant, None
            self.held.discard("voucher")  # nothing was issued: the reservation stays
            self.held.add("reservation")
            app = cmd.correlation_id
            if at_grant == "refused":
                return m.SCREENING_REFUSED, m.ScreeningRefused(
                    application_id=app,
                    code="de_minimis_headroom_exhausted",
                    scheme_version="pilot-2026-r2",
                    reason="no longer fits; GBER Art. 28 is not open to an undertaking in "
                    "difficulty",
                )
            return m.AID_RESCREENED, m.AidReserved(
                application_id=app,
                instrument="gber_art28",
                intensity=Decimal("0.5"),
                aid_element_eur=Decimal(3000),
                voucher_eur=Decimal(3000),
                co_payment_eur=Decimal(3000),
                de_minimis_headroom_after_eur=Decimal(0),
                scheme_version="pilot-2026-r2",
                reason="no longer fits; GBER Art. 28 applies at 50%",
            )
        if cmd.type == m.REDEEM_REQUESTED:
            redemption = m.Redemption.model_validate_json(cmd.body_json)
            self.redeemed += redemption.market_value_eur
            return m.VOUCHER_REDEEMED, m.VoucherRedeemed(
                application_id=cmd.correlation_id,
                voucher_id="V-1",
                delivery_id=redemption.delivery_id,
                redeemed_eur=redemption.market_value_eur,
                redeemed_total_eur=self.redeemed,
                remaining_eur=Decimal(6000) - self.redeemed,
            )
        return reply(cmd, self.eligible)

    async def withdraw_capacity(self, handle, was: str = "confirmed") -> None:
        """A facility withdrew the slot: the allocation service releases the bundle itself
        and tells the workflow."""
        self.held -= {"hold", "booking"}
        await handle.signal(SIGNAL_SERVICE_EVENT, invalidated(handle, len(self.sent), was))

    @property
    def commands(self) -> list[str]:
        """What went to the services (not the stage events and notifications for people)."""
        return [t for t in self.sent if t not in (STAGE_CHANGED, NOTIFICATION)]

    async def resume(self) -> None:
        self.paused.set()
        for app_id, event in self.pending:
            with contextlib.suppress(RPCError):  # the application may have ended: as the bridge
                await self.client.get_workflow_handle(app_id).signal(SIGNAL_SERVICE_EVENT, event)
