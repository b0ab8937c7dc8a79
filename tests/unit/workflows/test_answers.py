"""The answer desk: what a waiting send takes, and what it leaves to be signalled."""

from __future__ import annotations

import asyncio

from loket_contracts import messages as m
from loket_contracts.envelope import CloudEvent
from loket_workflows.application.answers import AnswerDesk, Awaited

ASKED = Awaited("app-1/eligibility", (m.ELIGIBILITY_DECIDED,), "app-1")


def answer(
    causation: str | None = ASKED.command_event_id,
    type_: str = m.ELIGIBILITY_DECIDED,
    application_id: str = "app-1",
) -> CloudEvent:
    return CloudEvent(
        id="e-1",
        source="loket/eligibility",
        type=type_,
        correlation_id=application_id,
        causation_id=causation,
        data=b"{}",
    )


async def test_the_answer_naming_the_command_goes_to_the_waiting_send() -> None:
    desk = AnswerDesk()
    waiting = desk.expect(ASKED)
    assert desk.offer(answer())
    got = await desk.wait(ASKED, waiting, within=5)
    assert got is not None and (got.event_id, got.type) == ("e-1", m.ELIGIBILITY_DECIDED)
    assert len(desk) == 0
    assert not desk.offer(answer())  # a redelivery is signalled (the workflow drops it by id)


async def test_other_events_are_left_to_be_signalled() -> None:
    desk = AnswerDesk()
    waiting = desk.expect(ASKED)
    assert not desk.offer(answer(causation=None))  # from a service that does not say
    assert not desk.offer(answer(causation="app-1/hold"))  # another command's
    assert not desk.offer(answer(type_=m.ALLOCATION_INVALIDATED))  # not an answer to it
    assert not desk.offer(answer(application_id="app-2"))  # about another application
    assert await desk.wait(ASKED, waiting, within=0.01) is None
    assert len(desk) == 0


async def test_an_answer_after_the_send_stopped_waiting_is_left_to_be_signalled() -> None:
    desk = AnswerDesk()
    waiting = desk.expect(ASKED)
    assert await desk.wait(ASKED, waiting, within=0.01) is None
    assert not desk.offer(answer())


async def test_an_answer_that_comes_with_the_timeout_is_not_lost() -> None:
    """Either the send has it, or the desk refused it (and the bridge signals it): never
    both, never neither, however the two land in the loop."""
    for delay in (0.0, 0.01, 0.02, 0.03):
        desk = AnswerDesk()
        waiting = desk.expect(ASKED)
        offered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(delay, _offer, desk, offered)
        got = await desk.wait(ASKED, waiting, within=0.02)
        taken = await asyncio.wait_for(offered, 60)
        assert taken == (got is not None), (delay, taken, got)


def _offer(desk: AnswerDesk, offered: asyncio.Future[bool]) -> None:
    offered.set_result(desk.offer(answer()))
