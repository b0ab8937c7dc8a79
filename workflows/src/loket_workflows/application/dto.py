"""Activity inputs. Workflow inputs, updates and queries live in loket_contracts.application."""

from __future__ import annotations

from loket_contracts.application import ServiceEvent
from pydantic import BaseModel, Field


class SendCommand(BaseModel):
    """Publish one command event. `event_id` is deterministic, so a retried activity publishes
    the same event and the receiving service's inbox drops the copy."""

    topic: str
    type: str
    event_id: str
    correlation_id: str
    body_json: str


class SendCommands(BaseModel):
    """Several events in one activity (batched-sends-v1): stage events and notifications
    with the command that follows them. Sent in order; retried as a whole (duplicates are
    dropped by event id)."""

    commands: list[SendCommand]
    # The command among them whose answer the workflow waits for: the send waits a little
    # for it in this process (answers.py). Absent in runs from before (answer-in-send).
    answer_to: str | None = Field(default=None, max_length=200)
    answer_types: list[str] = Field(default_factory=list, max_length=8)


class SendResult(BaseModel):
    """What the send brings back: the answer, when it came while the send waited."""

    answer: ServiceEvent | None = None
