"""The gateway's part in the workflow tests: every update a test sends is sealed, as the
gateway seals it, for the actor the test acts as (the owner by default; `acting(MANAGER)`),
with the test server's (skipped) time."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

from loket_contracts import seals
from loket_contracts.application import Owner
from pydantic import BaseModel
from temporalio import client
from temporalio.testing import WorkflowEnvironment

KEY = b"unit-test-decision-key-32-bytes!"
OWNER = seals.Actor(subject="u-ada", name="Ada Founder", roles=["applicant"], org="AT-1")
MANAGER = seals.Actor(subject="u-mina", name="M. Manager", roles=["manager"])
STRANGER = seals.Actor(subject="u-eve", name="Eve", roles=["applicant"], org="AT-2")
OWNED_BY = Owner(org="AT-1", subject="u-ada", name="Ada Founder")
UNSEALED = seals.Actor(subject="-", name="-")  # acting(UNSEALED): send the update as it is

_actor: contextvars.ContextVar[seals.Actor] = contextvars.ContextVar("actor", default=OWNER)


@contextlib.contextmanager
def acting(actor: seals.Actor) -> Iterator[None]:
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


class Sealing(client.Interceptor):
    def __init__(self) -> None:
        self.env: WorkflowEnvironment | None = None
        seals.configure([KEY])

    def intercept_client(self, next: client.OutboundInterceptor) -> client.OutboundInterceptor:
        return _SealingOutbound(next, self)


class _SealingOutbound(client.OutboundInterceptor):
    def __init__(self, next: client.OutboundInterceptor, root: Sealing) -> None:
        super().__init__(next)
        self.root = root

    async def start_workflow_update(self, input: client.StartWorkflowUpdateInput) -> Any:
        actor = _actor.get()
        body = input.args[0] if input.args else None
        unsealed = isinstance(body, BaseModel) and getattr(body, "seal", 1) is None
        if actor is not UNSEALED and unsealed:
            assert self.root.env is not None and isinstance(body, BaseModel)
            now = await self.root.env.get_current_time()
            sealed = body.model_copy(
                update={"seal": seals.seal(actor, input.id, input.update, now)}
            )
            input.args = [sealed, *input.args[1:]]
        return await super().start_workflow_update(input)
