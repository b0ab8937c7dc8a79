"""Activity inputs. Workflow inputs, updates and queries live in loket_contracts.application."""

from __future__ import annotations

from pydantic import BaseModel


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
