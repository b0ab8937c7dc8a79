"""Secret keys as text: URL-safe base64 without padding, several separated by commas in one
environment variable (the first is the current key; the others still verify or decrypt)."""

from __future__ import annotations

import base64
import os


def new_key(nbytes: int = 32) -> str:
    return encode(os.urandom(nbytes))


def encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def from_env(variable: str) -> list[bytes]:
    return [decode(k) for k in os.environ.get(variable, "").split(",") if k]
