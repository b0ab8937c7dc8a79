"""Decision seals: who decided, in a form the workflow can check.

The gateway verified the person's access token; it then signs a short-lived seal (a JWT, HS256
with a key only it and the workflow worker hold) naming that person, the application and the
update. The workflow's update validators verify the seal, so an update sent straight to
Temporal without one, with a forged one, or with one made for another application or update, is
refused. The key rotates: the first key signs, every configured key verifies.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import jwt
from pydantic import BaseModel, Field

from loket_contracts import keys

AUDIENCE = "loket-workflow"
ISSUER = "loket-gateway"
ALGORITHM = "HS256"
TTL = timedelta(minutes=5)  # a seal is used at once; minutes allow for clock skew and retries
KEYS_ENV = "LOKET_DECISION_KEYS"
MIN_KEY_BYTES = 32


class InvalidSeal(Exception):
    """The update carries no seal the workflow accepts; the message says why."""


class Actor(BaseModel):
    """The authenticated person or client behind a decision, as the gateway verified it."""

    subject: str = Field(max_length=200)
    name: str = Field(max_length=200)
    roles: list[str] = Field(default_factory=list, max_length=20)
    org: str | None = Field(default=None, max_length=120)

    def has(self, role: str) -> bool:
        return role in self.roles


_keys: list[bytes] = []


def configure(keys: Sequence[bytes]) -> None:
    """Set the keys of this process (the worker and the gateway do it at start)."""
    for key in keys:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a decision key needs at least {MIN_KEY_BYTES} bytes")
    _keys[:] = list(keys)


def keys_from_env() -> list[bytes]:
    """LOKET_DECISION_KEYS: the signing key first, then keys that still verify."""
    return keys.from_env(KEYS_ENV)


def configure_from_env() -> None:
    """The keys of this process from LOKET_DECISION_KEYS; refuses to run without one."""
    found = keys_from_env()
    if not found:
        raise RuntimeError(f"{KEYS_ENV} is not set: human decisions could not be checked")
    configure(found)


def new_key() -> str:
    return keys.new_key(MIN_KEY_BYTES)


def seal(actor: Actor, application_id: str, update: str, now: datetime) -> str:
    if not _keys:
        raise InvalidSeal(f"no decision key configured ({KEYS_ENV})")
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": actor.subject,
        "iat": int(now.timestamp()),
        "exp": int((now + TTL).timestamp()),
        "app": application_id,
        "upd": update,
        "act": actor.model_dump(mode="json"),
    }
    return jwt.encode(claims, _keys[0], algorithm=ALGORITHM)


def verify(token: str | None, application_id: str, update: str, now: datetime) -> Actor:
    """The seal's actor, if the seal is genuine, current and made for this very decision.
    `now` is the workflow's time, so verification is deterministic."""
    if not token:
        raise InvalidSeal("the decision carries no seal: send it through the gateway")
    if not _keys:
        raise InvalidSeal(f"no decision key configured ({KEYS_ENV})")
    for key in _keys:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                # Expiry is checked against the workflow's clock below, not the wall clock.
                options={"verify_exp": False, "verify_iat": False, "require": ["exp", "sub"]},
            )
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError as exc:
            raise InvalidSeal(f"unreadable seal: {exc}") from exc
    else:
        raise InvalidSeal("the seal's signature is not the gateway's")
    if claims.get("app") != application_id or claims.get("upd") != update:
        raise InvalidSeal("the seal was made for another application or decision")
    if now.timestamp() > float(claims["exp"]):
        raise InvalidSeal("the seal has expired")
    return Actor.model_validate(claims.get("act"))


def actor_of(token: str | None) -> Actor | None:
    """Who a seal names, read without checking it: for update handlers, which run after the
    validator checked it (and again on replay, where no key may be at hand)."""
    if not token:
        return None
    claims = jwt.decode(token, options={"verify_signature": False})
    return Actor.model_validate(claims.get("act"))
