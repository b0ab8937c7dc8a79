"""Who may do what on Apache Kafka: one SASL/SCRAM principal per Loket process, and the ACLs
that let each read what it consumes and write what it owns. Internal topics are written only
by their own service; the worker (its bridge) reads only the services' event topics;
facilities (one shared principal, their events signed per facility) may write the public
capacity topic and nothing else. No ACL, no access (`allow.everyone.if.no.acl.found=false`)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest
from loket_contracts import topics as t
from loket_messaging.kafka import KafkaAccess

# Kafka's ACL enums (org.apache.kafka.common.acl / resource)
TOPIC, GROUP = 2, 3
LITERAL, PREFIXED = 3, 4
READ, WRITE, DESCRIBE = 3, 4, 8
ALLOW = 3

FACILITIES = "facilities"  # the principal external facility producers share


@dataclass(frozen=True)
class Grant:
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    group: bool = True  # consumes in the group loket-<principal>


def _dlq(*consumed: str) -> tuple[str, ...]:
    return tuple(t.dlq(x) for x in consumed)


GRANTS: dict[str, Grant] = {
    "eligibility": Grant(
        (t.ELIGIBILITY_COMMANDS,), (t.ELIGIBILITY_EVENTS, *_dlq(t.ELIGIBILITY_COMMANDS))
    ),
    "allocation": Grant(
        (t.ALLOCATION_COMMANDS, t.ALLOCATION_QUERIES, t.FACILITY_CAPACITY),
        (
            t.ALLOCATION_EVENTS,
            t.ALLOCATION_REPLIES,
            *_dlq(t.ALLOCATION_COMMANDS, t.ALLOCATION_QUERIES, t.FACILITY_CAPACITY),
        ),
    ),
    "vouchers": Grant(
        (t.VOUCHERS_COMMANDS, t.VOUCHERS_QUERIES, t.CALLS),
        (
            t.VOUCHERS_EVENTS,
            t.VOUCHERS_REPLIES,
            *_dlq(t.VOUCHERS_COMMANDS, t.VOUCHERS_QUERIES, t.CALLS),
        ),
    ),
    "charter": Grant(
        (t.CHARTER_COMMANDS, t.CHARTER_QUERIES, t.FACILITY_CAPACITY),
        (
            t.CHARTER_EVENTS,
            t.CHARTER_REPLIES,
            *_dlq(t.CHARTER_COMMANDS, t.CHARTER_QUERIES, t.FACILITY_CAPACITY),
        ),
    ),
    # The workflow worker's activities send the commands, notifications and stage events; its
    # bridge reads the services' events (and parks what it cannot take).
    "workflows": Grant(
        t.SERVICE_EVENT_TOPICS,
        (
            *t.COMMAND_TOPICS,
            t.NOTIFICATIONS,
            t.APPLICATION_EVENTS,
            *_dlq(*t.SERVICE_EVENT_TOPICS),
        ),
    ),
    "gateway": Grant(
        (t.APPLICATION_EVENTS, t.VOUCHERS_REPLIES, t.ALLOCATION_REPLIES, t.CHARTER_REPLIES),
        (
            t.FACILITY_CAPACITY,
            t.VOUCHERS_QUERIES,
            t.ALLOCATION_QUERIES,
            t.CHARTER_QUERIES,
            t.CALLS,  # the programme's calls, through the gateway's outbox
            *_dlq(t.APPLICATION_EVENTS),
        ),
    ),
    FACILITIES: Grant((), (t.FACILITY_CAPACITY,), False),
}


def new_passwords() -> dict[str, str]:
    """A password for every principal (admin: the operator; controller: the broker itself)."""
    return {name: secrets.token_urlsafe(18) for name in ["admin", "controller", *GRANTS]}


def _acls(principal: str, grant: Grant) -> list[tuple[int, str, int, str, int]]:
    who = f"User:{principal}"
    out = [(TOPIC, topic, LITERAL, who, READ) for topic in grant.reads]
    out += [(TOPIC, topic, LITERAL, who, op) for topic in grant.writes for op in (WRITE, DESCRIBE)]
    if grant.group:
        out.append((GROUP, f"loket-{principal}", PREFIXED, who, READ))
    return out


async def apply(admin_access: KafkaAccess) -> int:
    """Create every ACL (creating one that exists is a no-op). Returns how many."""
    admin = AIOKafkaAdminClient(**admin_access.client_kwargs(), request_timeout_ms=15000)
    await admin.start()
    try:
        count = 0
        for principal, grant in GRANTS.items():
            for kind, name, pattern, who, op in _acls(principal, grant):
                request = CreateAclsRequest(kind, name, pattern, who, "*", op, ALLOW)
                response = await admin._send_request(request)  # aiokafka has no create_acls
                for error_code, message in response.creation_responses:
                    if error_code:
                        raise RuntimeError(f"ACL {who} {op} {name}: {error_code} {message}")
                count += 1
        return count
    finally:
        await admin.close()
