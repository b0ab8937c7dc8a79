"""CloudEvents 1.0 envelope with the Kafka protocol binding in binary content mode.

Attributes travel as `ce_<name>` headers, the JSON body is the event's data
(https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/kafka-protocol-binding.md).
`correlationid` is a CloudEvents extension (names are lowercase alphanumerics only) that carries
Loket's `correlation_id`: the application id the event belongs to; `causationid` names the
command an answer answers (the workflow worker hands an awaited answer straight to its send).
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TypeVar

from pydantic import BaseModel, Field, ValidationError

SPEC_VERSION = "1.0"
JSON = "application/json"

Headers = list[tuple[str, bytes]]
BodyT = TypeVar("BodyT", bound=BaseModel)


class EnvelopeError(ValueError):
    """A Kafka record that is not a valid Loket CloudEvent; the reason is human-readable."""


class CloudEvent(BaseModel):
    id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = None
    datacontenttype: str = JSON
    correlation_id: str | None = None
    causation_id: str | None = None
    data: bytes = b"{}"

    def kafka_headers(self) -> Headers:
        headers: Headers = [
            ("ce_specversion", SPEC_VERSION.encode()),
            ("ce_id", self.id.encode()),
            ("ce_source", self.source.encode()),
            ("ce_type", self.type.encode()),
            ("ce_time", self.time.isoformat().encode()),
            ("content-type", self.datacontenttype.encode()),
        ]
        if self.subject is not None:
            headers.append(("ce_subject", self.subject.encode()))
        if self.correlation_id is not None:
            headers.append(("ce_correlationid", self.correlation_id.encode()))
        if self.causation_id is not None:
            headers.append(("ce_causationid", self.causation_id.encode()))
        return headers

    def decode(self, model: builtins.type[BodyT]) -> BodyT:  # `type` is a field here
        """Validate the body against `model`; raises EnvelopeError with pydantic's reasons."""
        try:
            return model.model_validate_json(self.data)
        except ValidationError as exc:
            raise EnvelopeError(f"invalid {self.type} body: {_short(exc)}") from exc


def _short(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<body>'}: {err['msg']}" for err in exc.errors()
    )


def header_map(
    headers: Iterable[tuple[str, bytes | str]] | dict[str, str] | None,
) -> dict[str, str]:
    if headers is None:
        return {}
    items = headers.items() if isinstance(headers, dict) else headers
    out: dict[str, str] = {}
    for key, value in items:
        out[key.lower()] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return out


def strict_headers(headers: Iterable[tuple[str, bytes]] | None) -> dict[str, str]:
    """Header values as text; a value that is not UTF-8 makes the record invalid."""
    out: dict[str, str] = {}
    for key, value in headers or ():
        try:
            out[key.lower()] = value.decode("utf-8") if isinstance(value, bytes) else value
        except UnicodeDecodeError as exc:
            raise EnvelopeError(f"header {key!r} is not UTF-8 ({exc.reason})") from exc
    return out


def from_kafka(headers: dict[str, str], body: bytes) -> CloudEvent:
    """Read a binary-mode CloudEvent; raise EnvelopeError naming what is missing or wrong."""
    if headers.get("ce_specversion") != SPEC_VERSION:
        raise EnvelopeError(
            f"ce_specversion must be {SPEC_VERSION!r}, got {headers.get('ce_specversion')!r}"
        )
    missing = [h for h in ("ce_id", "ce_source", "ce_type") if not headers.get(h)]
    if missing:
        raise EnvelopeError(f"missing CloudEvents header(s): {', '.join(missing)}")
    content_type = headers.get("content-type", JSON)
    if not content_type.startswith(JSON):
        raise EnvelopeError(f"content-type must be {JSON}, got {content_type!r}")
    raw_time = headers.get("ce_time")
    try:
        time = datetime.fromisoformat(raw_time) if raw_time else datetime.now(UTC)
    except ValueError as exc:
        raise EnvelopeError(f"ce_time is not RFC 3339: {raw_time!r}") from exc
    return CloudEvent(
        id=headers["ce_id"],
        source=headers["ce_source"],
        type=headers["ce_type"],
        time=time,
        subject=headers.get("ce_subject"),
        datacontenttype=JSON,
        correlation_id=headers.get("ce_correlationid"),
        causation_id=headers.get("ce_causationid"),
        data=body,
    )


def make_event(
    *,
    source: str,
    type_: str,
    body: BaseModel,
    correlation_id: str | None = None,
    subject: str | None = None,
    event_id: str | None = None,
) -> CloudEvent:
    return CloudEvent(
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=type_,
        subject=subject,
        correlation_id=correlation_id,
        data=body.model_dump_json().encode(),
    )
