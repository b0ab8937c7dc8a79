"""Contract documents generated from the code that enforces them: AsyncAPI 3.0 for Kafka,
OpenAPI for HTTP. `loket docs` writes both to docs/; a test keeps the committed copies current."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from loket_contracts import capacity as cap
from loket_contracts import commands, topics
from loket_contracts import messages as m
from loket_contracts.application import (
    NOTIFICATION,
    STAGE_CHANGED,
    AcceptanceRecord,
    Notification,
    StageChanged,
)
from loket_contracts.calls import CALL_CHANGED, CallChanged
from pydantic import BaseModel

BODIES: dict[str, type[BaseModel]] = {
    **m.BODIES,
    m.ACCEPTANCE_RECORDED: AcceptanceRecord,
    NOTIFICATION: Notification,
    STAGE_CHANGED: StageChanged,
}


def _asked(topic: str) -> list[str]:
    """What the workflow asks on a command topic, from the command registry."""
    return [c.type for c in commands.WORKFLOW_COMMANDS if c.topic == topic]


def _answered(topic: str) -> list[str]:
    """The answers those commands get, in order, each once."""
    answers = [a for c in commands.WORKFLOW_COMMANDS if c.topic == topic for a in c.answers]
    return list(dict.fromkeys(answers))


# (topic, message types on it, description)
CHANNELS: list[tuple[str, dict[str, type[BaseModel]], str]] = [
    (
        topics.FACILITY_CAPACITY,
        dict(cap.CAPACITY_BODIES),
        "Public: facilities publish profiles, slots, withdrawals and deliveries with any Kafka "
        "client, as the principal `facilities` (SASL/SCRAM-SHA-512; write-only on this topic). "
        "Key = facility id; ce_source = facility/<facility_id>; every event carries "
        "`loket_signature: v1=<base64url HMAC-SHA256>` made with the facility's own key over "
        "ce_id, ce_type, ce_source, ce_subject and the SHA-256 of the body (joined by newlines); "
        "an unsigned event, or one signed with another facility's key, goes to the DLQ and is "
        "never applied. `sequence` strictly increasing per facility makes duplicates and "
        "out-of-order delivery harmless.",
    ),
    *[
        (topic, {t: BODIES[t] for t in types}, desc)
        for topic, types, desc in [
            (
                topics.ELIGIBILITY_COMMANDS,
                _asked(topics.ELIGIBILITY_COMMANDS),
                "Workflow → eligibility",
            ),
            (
                topics.ELIGIBILITY_EVENTS,
                _answered(topics.ELIGIBILITY_COMMANDS),
                "Eligibility decisions",
            ),
            (
                topics.ALLOCATION_COMMANDS,
                _asked(topics.ALLOCATION_COMMANDS),
                "Workflow → allocation",
            ),
            (
                topics.ALLOCATION_EVENTS,
                [
                    *_answered(topics.ALLOCATION_COMMANDS),
                    m.ALLOCATION_INVALIDATED,
                    m.DELIVERY_RECORDED,
                ],
                "Allocation results",
            ),
            (topics.VOUCHERS_COMMANDS, _asked(topics.VOUCHERS_COMMANDS), "Workflow → vouchers"),
            (
                topics.VOUCHERS_EVENTS,
                _answered(topics.VOUCHERS_COMMANDS),
                "State aid, budget and voucher results",
            ),
            (
                topics.VOUCHERS_QUERIES,
                [m.HEADROOM_QUERY, m.BUDGET_QUERY, m.REGISTER_QUERY],
                "Gateway → vouchers: read-only queries; the reply's ce_correlationid is the "
                "query's ce_id",
            ),
            (
                topics.VOUCHERS_REPLIES,
                [m.HEADROOM_REPLY, m.BUDGET_REPLY, m.REGISTER_REPLY],
                "Answers to vouchers queries",
            ),
            (
                topics.ALLOCATION_QUERIES,
                [m.CATALOGUE_QUERY, m.UTILISATION_QUERY],
                "Gateway → allocation: catalogue and utilisation queries",
            ),
            (topics.ALLOCATION_REPLIES, [m.CATALOGUE_REPLY, m.UTILISATION_REPLY], "Answers"),
            (topics.CHARTER_COMMANDS, _asked(topics.CHARTER_COMMANDS), "Workflow → charter"),
            (topics.CHARTER_EVENTS, _answered(topics.CHARTER_COMMANDS), "Rendered terms"),
            (
                topics.CHARTER_QUERIES,
                [m.DOCUMENT_QUERY],
                "Gateway → charter: an agreement as Markdown, HTML or PDF, for its owner",
            ),
            (topics.CHARTER_REPLIES, [m.DOCUMENT_REPLY], "Agreement files, base64"),
            (
                topics.NOTIFICATIONS,
                [NOTIFICATION],
                "For people: what an applicant, a facility or a programme manager must act "
                "on, and by when",
            ),
            (
                topics.APPLICATION_EVENTS,
                [STAGE_CHANGED],
                "Every stage change of every application, for read models (key = application "
                "id; `sequence` orders the changes of one application)",
            ),
        ]
    ],
    (
        topics.CALLS,
        {CALL_CHANGED: CallChanged},
        "Gateway → services: every version of a call the programme opened, amended or "
        "closed (key = call id); the vouchers service takes its budgets from it",
    ),
]

CE_HEADERS: dict[str, Any] = {
    "type": "object",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type"],
    "properties": {
        "ce_specversion": {"const": "1.0"},
        "ce_id": {"type": "string", "description": "unique per event; consumers dedupe on it"},
        "ce_source": {"type": "string"},
        "ce_type": {"type": "string"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string"},
        "ce_correlationid": {"type": "string", "description": "the application id"},
        "ce_causationid": {
            "type": "string",
            "description": "a service's event: the ce_id of the event that caused it (the "
            "command it answers)",
        },
        "loket_signature": {
            "type": "string",
            "description": "facility events only: v1=<HMAC-SHA256 with the facility's key>",
        },
        "content-type": {"const": "application/json"},
    },
}


def asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic, types, description in CHANNELS:
        cid = topic.replace(".", "_")
        refs = {}
        for type_, model in types.items():
            mid = type_.replace(".", "_")
            messages[mid] = {
                "name": type_,
                "contentType": "application/json",
                "headers": CE_HEADERS,
                "payload": model.model_json_schema(),
            }
            refs[mid] = {"$ref": f"#/components/messages/{mid}"}
        channels[cid] = {"address": topic, "description": description, "messages": refs}
        channels[cid + "_dlq"] = {
            "address": topics.dlq(topic),
            "description": f"Records from {topic} that could not be processed, unchanged, with "
            "dlq_reason, dlq_source_topic/partition/offset, dlq_consumer_group and dlq_time "
            "headers. dlq_reason starts with the kind of failure: 'poison:' (undecodable, "
            "invalid or out of bounds: parked at once), 'transient:' (the database or broker "
            "stayed away past the retry budget) or 'unexpected:' (failed three times).",
        }
        operations[f"publish_{cid}"] = {"action": "send", "channel": {"$ref": f"#/channels/{cid}"}}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Loket Kafka contracts",
            "version": "1.0.0",
            "description": "CloudEvents 1.0, Kafka protocol binding, binary mode. On Apache "
            "Kafka every client authenticates (SASL/SCRAM-SHA-512) as its own principal and "
            "ACLs let each write only the topics it owns: a service its events, replies and the "
            "DLQs of what it consumes; the workflow worker the commands, notifications and "
            "stage events; the gateway the queries and the capacity topic; facilities only the "
            "capacity topic. The worker's bridge takes only events whose ce_source is the "
            "service owning the topic.",
        },
        "servers": {
            "loket": {
                "host": "127.0.0.1:19092",
                "protocol": "kafka",
                "security": [{"$ref": "#/components/securitySchemes/scram"}],
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "securitySchemes": {
                "scram": {
                    "type": "scramSha512",
                    "description": "one principal per Loket process; `facilities` for facility "
                    "producers",
                }
            },
        },
    }


def openapi() -> dict[str, Any]:
    from loket_contracts import seals
    from loket_gateway.app import create_app
    from loket_gateway.identity import TokenVerifier
    from loket_messaging import facility_keys, payload_codec
    from loket_messaging.settings import Settings

    settings = Settings.from_env("gateway")
    # Throwaway keys and a provider that is never asked: only the document is wanted.
    keys = {
        payload_codec.KEYS_ENV: payload_codec.new_key(),
        seals.KEYS_ENV: seals.new_key(),
        facility_keys.MASTER_ENV: facility_keys.new_master(),
    }
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(keys)
    try:
        app = create_app(
            Settings(**{**settings.__dict__, "database_url": "sqlite://"}),
            TokenVerifier("https://oidc.invalid/realms/loket", "loket-gateway"),
        )
        spec: dict[str, Any] = app.openapi()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return spec


def write(docs: Path) -> list[Path]:
    docs.mkdir(parents=True, exist_ok=True)
    out = []
    for name, doc in (("asyncapi.json", asyncapi()), ("openapi.json", openapi())):
        path = docs / name
        path.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")
        out.append(path)
    return out
