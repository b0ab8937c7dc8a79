"""Answers awaited by a send in this worker process, handed over without a signal.

A send that carries a command with an answer waits here for a short while: the bridge in the
same process offers every service event it reads, and an event that names the awaited command
(`ce_causationid`) with one of its answer types goes straight to that send, whose result
Temporal records. Nothing else is taken: an event nobody waits for (late, unsolicited, or
for a send in another worker) becomes a signal as before. So a workflow's answer is never
lost, only slower when it misses this desk.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from loket_contracts.application import ServiceEvent
from loket_contracts.envelope import CloudEvent


@dataclass(frozen=True)
class Awaited:
    command_event_id: str
    answer_types: tuple[str, ...]
    application_id: str  # an answer about another application is not this one's


class AnswerDesk:
    def __init__(self) -> None:
        self._waiting: dict[str, tuple[Awaited, asyncio.Future[ServiceEvent]]] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def expect(self, awaited: Awaited) -> asyncio.Future[ServiceEvent]:
        """Register before the command leaves, so that its answer cannot overtake us."""
        answer: asyncio.Future[ServiceEvent] = asyncio.get_running_loop().create_future()
        self._waiting[awaited.command_event_id] = (awaited, answer)
        return answer

    async def wait(
        self, awaited: Awaited, answer: asyncio.Future[ServiceEvent], within: float
    ) -> ServiceEvent | None:
        """The answer, or None when none came within `within` seconds."""
        try:
            return await asyncio.wait_for(asyncio.shield(answer), within)
        except TimeoutError:
            if answer.done() and not answer.cancelled():  # came with the timeout
                return answer.result()
            return None
        finally:
            self.forget(awaited)

    def forget(self, awaited: Awaited) -> None:
        entry = self._waiting.get(awaited.command_event_id)
        if entry is not None and entry[0] is awaited:
            del self._waiting[awaited.command_event_id]
            entry[1].cancel()

    def offer(self, event: CloudEvent) -> bool:
        """True when a send here was waiting for this event and now has it."""
        if event.causation_id is None:
            return False
        entry = self._waiting.get(event.causation_id)
        if entry is None or event.type not in entry[0].answer_types:
            return False
        if event.correlation_id != entry[0].application_id:
            return False
        answer = ServiceEvent(event_id=event.id, type=event.type, data=event.data.decode())
        del self._waiting[event.causation_id]
        if entry[1].done():  # the send stopped waiting: the answer goes as a signal
            return False
        entry[1].set_result(answer)
        return True
