"""Temporal client settings of the worker and its bridge: pydantic payloads, encrypted."""

from __future__ import annotations

from loket_messaging import telemetry
from loket_messaging.payload_codec import data_converter
from temporalio.client import Client


async def connect(address: str, namespace: str) -> Client:
    # The tracing interceptor (when telemetry is on) also applies to workers on this client.
    return await Client.connect(
        address,
        namespace=namespace,
        data_converter=data_converter(),
        interceptors=telemetry.temporal_interceptors(),
    )
