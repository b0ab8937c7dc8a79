"""Temporal payloads leave the process encrypted: nothing of the plaintext in what Temporal
stores, tampering detected, keys rotate, and histories from before encryption still read."""

from __future__ import annotations

import base64

import pytest
from loket_messaging.payload_codec import (
    ENCODING,
    EncryptionCodec,
    MissingKey,
    data_converter,
    keys_from_env,
    new_key,
)
from temporalio.api.common.v1 import Payload

OLD, NEW = (base64.urlsafe_b64decode(new_key() + "=") for _ in range(2))
PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"turnover_eur": "987654"}')


async def test_what_temporal_stores_reveals_nothing_and_decodes_back() -> None:
    codec = EncryptionCodec([NEW])
    [sealed] = await codec.encode([PLAIN])
    assert sealed.metadata["encoding"] == ENCODING
    assert b"987654" not in sealed.SerializeToString()
    [again] = await codec.encode([PLAIN])
    assert again.data != sealed.data  # a fresh nonce every time
    assert await codec.decode([sealed]) == [PLAIN]


async def test_a_tampered_payload_is_refused() -> None:
    codec = EncryptionCodec([NEW])
    [sealed] = await codec.encode([PLAIN])
    flipped = bytearray(sealed.data)
    flipped[-1] ^= 1
    sealed.data = bytes(flipped)
    with pytest.raises(ValueError, match="altered"):
        await codec.decode([sealed])


async def test_keys_rotate_old_payloads_still_read_unknown_keys_are_named() -> None:
    [before] = await EncryptionCodec([OLD]).encode([PLAIN])
    rotated = EncryptionCodec([NEW, OLD])
    assert await rotated.decode([before]) == [PLAIN]
    [after] = await rotated.encode([PLAIN])
    assert await EncryptionCodec([NEW]).decode([after]) == [PLAIN]
    with pytest.raises(MissingKey):
        await EncryptionCodec([NEW]).decode([before])


async def test_payloads_from_before_encryption_pass_through() -> None:
    assert await EncryptionCodec([NEW]).decode([PLAIN]) == [PLAIN]


def test_no_key_no_converter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOKET_PAYLOAD_KEYS", raising=False)
    with pytest.raises(RuntimeError, match="LOKET_PAYLOAD_KEYS"):
        data_converter()
    monkeypatch.setenv("LOKET_PAYLOAD_KEYS", "c2hvcnQ")
    with pytest.raises(ValueError, match="32 bytes"):
        keys_from_env()
