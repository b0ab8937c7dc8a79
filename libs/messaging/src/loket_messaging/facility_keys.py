"""Facility events are signed: on the shared public topic, the broker knows only that some
facility wrote a record (its SASL principal), not which one. Each facility holds its own key,
derived from the programme's master key (HMAC-SHA256(master, facility id)), handed over at
onboarding; it signs every CloudEvent it publishes (header `loket_signature`). Consumers
derive the key of the facility the event claims to come from (`ce_source: facility/<id>`) and
drop anything unsigned or signed with another key to the dead-letter topic: facility F cannot
publish for G, and an anonymous record is never applied.

The signature covers the event's id, type, source, subject and the SHA-256 of its body.
"""

from __future__ import annotations

import hashlib
import hmac

from loket_contracts import keys
from loket_contracts.envelope import CloudEvent, EnvelopeError

HEADER = "loket_signature"
MASTER_ENV = "LOKET_FACILITY_MASTER_KEY"
SOURCE_PREFIX = "facility/"
_VERSION = "v1"


def master_from_env() -> bytes:
    found = keys.from_env(MASTER_ENV)
    if not found:
        raise RuntimeError(f"{MASTER_ENV} is not set: facility events could not be checked")
    return found[0]


def new_master() -> str:
    return keys.new_key()


def facility_key(master: bytes, facility_id: str) -> bytes:
    """The key a facility signs with (what onboarding hands over)."""
    return hmac.new(master, f"loket-facility-{_VERSION}:{facility_id}".encode(), "sha256").digest()


def signature(key: bytes, event: CloudEvent) -> str:
    digest = hashlib.sha256(event.data).hexdigest()
    signed = "\n".join([event.id, event.type, event.source, event.subject or "", digest])
    mac = hmac.new(key, signed.encode(), "sha256").digest()
    return f"{_VERSION}={keys.encode(mac)}"


def signed_headers(key: bytes, event: CloudEvent) -> list[tuple[str, bytes]]:
    return [*event.kafka_headers(), (HEADER, signature(key, event).encode())]


class FacilitySignatures:
    """A consumer's check of facility events: raises EnvelopeError (→ dead-letter topic)."""

    def __init__(self, master: bytes) -> None:
        self._master = master

    def __call__(self, headers: dict[str, str], event: CloudEvent) -> None:
        if not event.source.startswith(SOURCE_PREFIX):
            raise EnvelopeError(f"facility events come from facility/<id>, not {event.source!r}")
        facility_id = event.source.removeprefix(SOURCE_PREFIX)
        given = headers.get(HEADER)
        if not given:
            raise EnvelopeError(f"unsigned facility event (no {HEADER} header)")
        expected = signature(facility_key(self._master, facility_id), event)
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise EnvelopeError(f"the signature is not facility {facility_id!r}'s")
