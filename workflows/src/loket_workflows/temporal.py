"""Temporal client settings shared by the worker and the bridge: pydantic payloads, encrypted."""

from __future__ import annotations

from loket_messaging.payload_codec import data_converter
from temporalio.client import Client


async def connect(address: str, namespace: str) -> Client:
    return await Client.connect(address, namespace=namespace, data_converter=data_converter())
