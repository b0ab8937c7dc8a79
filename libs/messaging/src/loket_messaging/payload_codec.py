"""Temporal payloads encrypted with AES-GCM before they leave the process: workflow inputs,
signals, updates, results and activity arguments sit in Temporal's history as ciphertext, so the
history holds no readable financials or personal data. (Search attributes stay readable: they
hold the stage, countries, call and priority area, which managers filter on.)

Keys rotate: the first key of LOKET_PAYLOAD_KEYS encrypts, every listed key decrypts, and each
payload names its key by id. A payload without the encrypted encoding (histories recorded
before encryption) passes through unchanged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from loket_contracts import keys as keys_text
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

ENCODING = b"binary/encrypted"
KEYS_ENV = "LOKET_PAYLOAD_KEYS"
_NONCE_BYTES = 12


class MissingKey(Exception):
    """A payload was encrypted with a key this process does not hold."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def new_key() -> str:
    return keys_text.encode(AESGCM.generate_key(bit_length=256))


def keys_from_env() -> list[bytes]:
    """LOKET_PAYLOAD_KEYS: AES-256 keys, the current one first."""
    keys = keys_text.from_env(KEYS_ENV)
    for key in keys:
        if len(key) != 32:
            raise ValueError(f"{KEYS_ENV}: every key must be 32 bytes (AES-256)")
    return keys


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("the payload codec needs at least one key")
        self._current = (key_id(keys[0]).encode(), AESGCM(keys[0]))
        self._by_id = {key_id(k).encode(): AESGCM(k) for k in keys}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        kid, cipher = self._current
        out = []
        for p in payloads:
            nonce = os.urandom(_NONCE_BYTES)
            # The key id is bound as associated data: a payload cannot be passed off as
            # encrypted under another key.
            sealed = cipher.encrypt(nonce, p.SerializeToString(), kid)
            out.append(
                Payload(
                    metadata={"encoding": ENCODING, "encryption-key-id": kid},
                    data=nonce + sealed,
                )
            )
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            if p.metadata.get("encoding") != ENCODING:
                out.append(p)
                continue
            kid = p.metadata.get("encryption-key-id", b"")
            cipher = self._by_id.get(kid)
            if cipher is None:
                raise MissingKey(f"payload encrypted with key {kid.decode()!r}, not held here")
            try:
                plain = cipher.decrypt(p.data[:_NONCE_BYTES], p.data[_NONCE_BYTES:], kid)
            except InvalidTag as exc:
                raise ValueError("the payload was altered or is not under this key") from exc
            out.append(Payload.FromString(plain))
        return out


def data_converter(keys: Sequence[bytes] | None = None) -> DataConverter:
    """Pydantic payloads, encrypted with `keys` (default: LOKET_PAYLOAD_KEYS). Refuses to run
    without a key: Loket never writes clear financials into Temporal by accident."""
    keys = keys_from_env() if keys is None else keys
    if not keys:
        raise RuntimeError(f"{KEYS_ENV} is not set: Temporal payloads must be encrypted")
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(keys))
