"""Who is calling: OAuth 2 access tokens (JWT) from the OIDC provider, verified against its
JWKS: signature, issuer, audience, expiry. Any standard provider fits (Keycloak in the stack,
EU Login or another Keycloak by configuration)."""

from __future__ import annotations

from dataclasses import dataclass

import jwt
from jwt import PyJWKClient

ALGORITHMS = ["RS256", "ES256", "PS256"]  # asymmetric only: never HS*, never "none"
REQUIRED = ["exp", "iat", "iss", "aud", "sub"]


class InvalidToken(Exception):
    """The token is not one this gateway accepts; the message says why (for the 401)."""


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
            jwks_url or f"{issuer}/protocol/openid-connect/certs", cache_keys=True, lifespan=300
        )

    def verify(self, token: str) -> Principal:
        """Blocking (the key set may be fetched): call it from a worker thread."""
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": REQUIRED},
                leeway=30,
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc) or type(exc).__name__) from exc
        roles = claims.get("roles") or claims.get("realm_access", {}).get("roles", [])
        return Principal(
            subject=str(claims["sub"]),
            name=str(claims.get("name") or claims.get("preferred_username") or claims["sub"]),
            roles=frozenset(str(r) for r in roles),
            org=claims.get("org"),
            facility_id=claims.get("facility_id"),
        )
