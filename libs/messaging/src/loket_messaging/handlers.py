"""The one convention of every service's handlers: a class bound to a scheme configuration
(tests bind their own). A handler of a command in the registry (`loket_contracts.commands`) is
marked `@answers(commands.HOLD)` and takes the decoded body: `(session, cmd) -> outgoing
events`; the runtime decodes (`runtime.answer(handler)`). Other handlers (facility events,
queries) take `(session, event)`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from loket_contracts.commands import Command
from loket_contracts.envelope import CloudEvent
from loket_contracts.scheme import Scheme, load_scheme
from pydantic import BaseModel
from sqlmodel import Session

from loket_messaging.outbox import Outgoing

BodyT = TypeVar("BodyT", bound=BaseModel)
SelfT = TypeVar("SelfT")
COMMAND = "loket_command"


def answers(
    command: Command[BodyT],
) -> Callable[
    [Callable[[SelfT, Session, BodyT], Sequence[Outgoing]]],
    Callable[[SelfT, Session, BodyT], Sequence[Outgoing]],
]:
    """Marks the handler of `command`; mypy checks that it takes the command's body model."""

    def mark(
        fn: Callable[[SelfT, Session, BodyT], Sequence[Outgoing]],
    ) -> Callable[[SelfT, Session, BodyT], Sequence[Outgoing]]:
        setattr(fn, COMMAND, command)
        return fn

    return mark


def command_of(handler: Callable[..., Any]) -> Command[Any] | None:
    found: Command[Any] | None = getattr(handler, COMMAND, None)
    return found


def invoke(
    handler: Callable[..., Sequence[Outgoing]], session: Session, event: CloudEvent
) -> Sequence[Outgoing]:
    """Call a handler with what it takes: the decoded body for a command's handler, the
    event for the others (the runtime does the same; tests call handlers this way)."""
    command = command_of(handler)
    if command is None:
        return handler(session, event)
    return handler(session, event.decode(command.body))


class SchemeHandlers:
    def __init__(self, scheme: Scheme) -> None:
        self.scheme = scheme

    def scheme_of(self, version: str | None) -> Scheme:
        """The version an application was submitted under (none given: the bound one); an
        application keeps its version to the end while new ones take the new rules."""
        return self.scheme if version in (None, self.scheme.version) else load_scheme(version)
