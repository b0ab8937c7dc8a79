"""The gateway: an OAuth 2 resource server in front of Temporal (applications) and Kafka
(capacity, service queries). Routes live in one router per actor (`routes/`)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse
from loket_contracts import seals
from loket_contracts.topics import ALLOCATION_REPLIES, CHARTER_REPLIES, VOUCHERS_REPLIES
from loket_messaging import telemetry
from loket_messaging.kafka import make_producer
from loket_messaging.migrations import upgrade
from loket_messaging.settings import Settings
from temporalio.client import Client

from loket_gateway import history, problems, rounds, temporal_ops
from loket_gateway.auth import AuditTrail
from loket_gateway.console import routes as console
from loket_gateway.identity import TokenVerifier
from loket_gateway.limits import BodyLimit
from loket_gateway.requests import KafkaRequests
from loket_gateway.routes import (
    applications,
    calls,
    decisions,
    facilities,
    programme,
    public,
    undertakings,
)
from loket_gateway.state import State


def create_app(settings: Settings | None = None, verifier: TokenVerifier | None = None) -> FastAPI:
    telemetry.setup("gateway")  # before State: its engine and consumer are traced
    state = State(settings or Settings.from_env("gateway"), verifier)
    seals.configure_from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(upgrade, state.engine, "loket_gateway")
        state.client = await Client.connect(
            state.settings.temporal_address,
            namespace=state.settings.temporal_namespace,
            data_converter=state.converter,
            interceptors=telemetry.temporal_interceptors(),
        )
        await temporal_ops.register_search_attributes(
            state.client, state.settings.temporal_namespace
        )
        await rounds.start(state, state.client)
        state.producer = make_producer(state.settings.kafka_bootstrap, "loket-gateway")
        await state.producer.start()
        state.requests = KafkaRequests(
            state.settings.kafka_bootstrap,
            state.producer,
            [VOUCHERS_REPLIES, ALLOCATION_REPLIES, CHARTER_REPLIES],
        )
        await state.requests.start()
        try:
            async with state.listings.running():
                snapshots = asyncio.create_task(history.keep_taking(state), name="snapshots")
                try:
                    yield
                finally:
                    snapshots.cancel()
        finally:
            await state.requests.stop()
            await state.producer.stop()
            state.engine.dispose()

    app = FastAPI(
        responses=problems.COMMON_RESPONSES,
        title="Loket gateway",
        version="0.2.0",
        description="Apply once for cross-border access to research and technology "
        "infrastructures; facilities publish capacity; managers follow every application. "
        "Every route but the public ones needs an OAuth 2 access token of the programme's "
        "OIDC provider (`Authorization: Bearer …`).",
        lifespan=lifespan,
    )
    problems.install(app)
    app.add_middleware(AuditTrail)
    app.add_middleware(BodyLimit)
    origins = [o for o in os.environ.get("LOKET_CODEC_CORS_ORIGINS", "").split(",") if o]
    if origins:  # the Temporal UI calls /codec/decode from the browser
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["POST"],
            allow_headers=["Authorization", "Content-Type", "X-Namespace"],
            allow_credentials=True,
        )
    for module in (public, applications, decisions, undertakings, facilities, programme, calls):
        app.include_router(module.router)
    app.include_router(console.router)

    @app.exception_handler(console.LoginNeeded)
    async def login_first(request: Request, exc: console.LoginNeeded) -> RedirectResponse:
        return RedirectResponse(f"/console/login?{urlencode({'next': exc.next_path})}", 303)

    app.state.loket = state
    telemetry.instrument_app(app)
    return app
