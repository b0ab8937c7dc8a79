"""What the gateway process holds: connections, the token verifier, lifecycle durations."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Annotated, TypeVar

from aiokafka import AIOKafkaProducer
from fastapi import Depends, Request
from loket_contracts.application import DEFAULT_RESEND_AFTER_S, DEFAULT_STUCK_NOTICE_S
from loket_contracts.scheme import load_scheme
from loket_messaging.db import make_engine, read_only
from loket_messaging.facility_keys import master_from_env
from loket_messaging.payload_codec import data_converter
from loket_messaging.settings import Settings
from sqlmodel import Session
from temporalio.client import Client

from loket_gateway import calls
from loket_gateway.console.login import Sessions
from loket_gateway.identity import TokenVerifier
from loket_gateway.limits import WriteRate
from loket_gateway.listings import make_runtime
from loket_gateway.requests import KafkaRequests

DEFAULT_AUDIENCE = "loket-gateway"
T = TypeVar("T")


def verifier_from_env() -> TokenVerifier:
    """The OIDC provider this gateway trusts: LOKET_OIDC_ISSUER (required), its JWKS from
    LOKET_OIDC_JWKS_URL or the issuer's discovery document, audience LOKET_OIDC_AUDIENCE."""
    issuer = os.environ.get("LOKET_OIDC_ISSUER")
    if not issuer:
        raise RuntimeError("LOKET_OIDC_ISSUER is not set: the gateway serves no one anonymously")
    return TokenVerifier(
        issuer,
        os.environ.get("LOKET_OIDC_AUDIENCE", DEFAULT_AUDIENCE),
        os.environ.get("LOKET_OIDC_JWKS_URL") or None,
    )


class State:
    def __init__(self, settings: Settings, verifier: TokenVerifier | None = None) -> None:
        self.settings = settings
        self.engine = make_engine(settings.database_url)
        self.client: Client | None = None
        self.producer: AIOKafkaProducer | None = None
        self.requests: KafkaRequests | None = None
        self.verifier = verifier or verifier_from_env()
        self.write_rate = WriteRate.from_env()
        # Refuses to run without a payload key; the codec endpoint decodes with the same keys.
        self.converter = data_converter()
        self.codec = self.converter.payload_codec
        self.facility_master = master_from_env()
        # Durations come from the scheme configuration; the environment may shorten them
        # (the demo shows an expiry in seconds, not days).
        scheme = load_scheme()
        lifecycle = scheme.lifecycle

        def seconds(variable: str, default: int) -> int:
            return int(os.environ.get(variable) or default)  # empty: the scheme's

        self.review_escalation_s = seconds(
            "LOKET_REVIEW_ESCALATION_S", lifecycle.review_escalation_days.value * 86400
        )
        self.acceptance_window_s = seconds(
            "LOKET_ACCEPTANCE_WINDOW_S", lifecycle.acceptance_days.value * 86400
        )
        self.hold_ttl_s = scheme.allocation.hold_days.value * 86400
        self.voucher_validity_s = seconds(
            "LOKET_VOUCHER_VALIDITY_S", lifecycle.voucher_validity_days.value * 86400
        )
        self.access_report_s = seconds(
            "LOKET_ACCESS_REPORT_S", lifecycle.access_report_days.value * 86400
        )
        self.resend_after_s = seconds("LOKET_RESEND_AFTER_S", DEFAULT_RESEND_AFTER_S)
        self.stuck_notice_s = seconds("LOKET_STUCK_NOTICE_S", DEFAULT_STUCK_NOTICE_S)
        self.listings = make_runtime(settings)
        self.console: Sessions | None = None  # the console's logins, made on first use
        self.scheme = scheme  # its calls are registered at start (calls.seed)

    def call_ids(self) -> list[str]:
        with read_only(self.engine) as session:
            return calls.ids(session)

    async def read(self, query: Callable[[Session], T]) -> T:
        """`query` in a read-only unit of work, off the event loop: a request that reads
        neither waits for a write lock nor holds up the other requests while it reads."""

        def run() -> T:
            with read_only(self.engine) as session:
                return query(session)

        return await asyncio.to_thread(run)


def get_state(request: Request) -> State:
    state: State = request.app.state.loket
    return state


def get_client(request: Request) -> Client:
    client: Client | None = get_state(request).client
    assert client is not None, "the lifespan connects the Temporal client"
    return client


StateDep = Annotated[State, Depends(get_state)]
ClientDep = Annotated[Client, Depends(get_client)]
