"""Who is calling: OAuth 2 access tokens (JWT) from the OIDC provider, verified against its
JWKS: signature, issuer, audience, expiry. Any standard provider fits (Keycloak in the stack,
EU Login or another Keycloak by configuration)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jwt
from jwt import PyJWKClient

ALGORITHMS = ["RS256", "ES256", "PS256"]  # asymmetric only: never HS*, never "none"
KEYS_FRESH_S = 300  # keys older than this are fetched again before use (rotation, revocation)
REFETCH_AFTER_S = 10  # unknown key ids do not make us ask the provider more often than this
REQUIRED = ["exp", "iat", "iss", "aud", "sub"]
LEEWAY_S = 30  # clocks of the provider and the gateway may differ by this much
VERIFIED_MAX = 4096  # tokens remembered as verified, least recently used first out


class InvalidToken(Exception):
    """The token is not one this gateway accepts; the message says why (for the 401)."""


class ProviderUnavailable(Exception):
    """The provider's key set could not be fetched: not the caller's fault (503)."""


@dataclass(frozen=True)
class Principal:
    subject: str
    name: str
    roles: frozenset[str]
    org: str | None = None  # the applicant's organisation (undertaking id)
    facility_id: str | None = None  # the facility a facility client acts as

    def has(self, role: str) -> bool:
        return role in self.roles


class TokenVerifier:
    def __init__(self, issuer: str, audience: str, jwks_url: str | None = None) -> None:
        self.issuer, self.audience = issuer, audience
        # Keys are cached and fetched again when a token names a key id not seen yet
        # (the provider rotated its keys).
        self._keys = PyJWKClient(
            jwks_url or f"{issuer}/protocol/openid-connect/certs", cache_jwk_set=False
        )
        self._known: dict[str | None, Any] = {}
        self._fetched_at = float("-inf")  # never: the first token fetches the keys
        self._lock = threading.Lock()
        # A token verified against the key set fetched at `_fetched_at`: its principal and
        # when it expires. A client sends the same token with every request until it expires,
        # and checking the signature and claims again was most of the cost of identifying it.
        self._verified: OrderedDict[bytes, tuple[Principal, float, float]] = OrderedDict()

    def remembered(self, token: str) -> Principal | None:
        """The principal of a token verified before, while its key set is the one in use and
        fresh and the token has not expired; else None (verify it in full)."""
        digest = hashlib.sha256(token.encode()).digest()
        with self._lock:
            found = self._verified.get(digest)
            if found is None:
                return None
            who, expires, keys_at = found
            fresh = time.monotonic() - self._fetched_at < KEYS_FRESH_S
            if keys_at != self._fetched_at or not fresh or time.time() > expires + LEEWAY_S:
                del self._verified[digest]
                return None
            self._verified.move_to_end(digest)
            return who

    def _remember(self, token: str, who: Principal, expires: float, keys_at: float) -> None:
        with self._lock:
            self._verified[hashlib.sha256(token.encode()).digest()] = (who, expires, keys_at)
            while len(self._verified) > VERIFIED_MAX:
                self._verified.popitem(last=False)

    def _key(self, kid: str | None) -> tuple[Any, float]:
        """The key named `kid`, and when the key set it came from was fetched."""
        with self._lock:
            age = time.monotonic() - self._fetched_at
            if age < KEYS_FRESH_S and kid in self._known:
                return self._known[kid], self._fetched_at
            if age < REFETCH_AFTER_S:  # made-up key ids must not flood the provider
                raise jwt.InvalidKeyError(f"unknown signing key {kid!r}")
        try:
            keys = {k.key_id: k.key for k in self._keys.get_signing_keys()}  # the network
        except jwt.PyJWKClientConnectionError as exc:
            raise ProviderUnavailable(str(exc)) from exc
        with self._lock:
            self._known, self._fetched_at = keys, time.monotonic()
            fetched_at = self._fetched_at
        if kid not in keys:
            raise jwt.InvalidKeyError(f"the provider has no signing key {kid!r}")
        return keys[kid], fetched_at

    def ready(self, token: str) -> bool:
        """True if verifying `token` needs no network: its key is known and fresh (then
        `verify` is pure CPU, ~0.1 ms, and may run on the event loop)."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return True  # refused without any key
        with self._lock:
            age = time.monotonic() - self._fetched_at
            return (kid in self._known and age < KEYS_FRESH_S) or age < REFETCH_AFTER_S

    def verify(self, token: str) -> Principal:
        """Blocking when the key set must be fetched (`ready` says when it need not)."""
        remembered = self.remembered(token)
        if remembered is not None:
            return remembered
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key, keys_at = self._key(kid)
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": REQUIRED},
                leeway=LEEWAY_S,
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc) or type(exc).__name__) from exc
        roles = claims.get("roles") or claims.get("realm_access", {}).get("roles", [])
        who = Principal(
            subject=str(claims["sub"]),
            name=str(claims.get("name") or claims.get("preferred_username") or claims["sub"]),
            roles=frozenset(str(r) for r in roles),
            org=claims.get("org"),
            facility_id=claims.get("facility_id"),
        )
        self._remember(token, who, float(claims["exp"]), keys_at)
        return who
