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
