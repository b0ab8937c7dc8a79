"""The gateway's token verifier against a key set served on a real loopback socket (a stand-in
for the provider's JWKS endpoint; the Keycloak tests cover the real provider): keys are
fetched once and reused, a key rotation is picked up, made-up key ids cannot make the gateway
hammer the provider, and a provider that is away is not the caller's fault. A token verified
once is remembered, but never past its expiry or its key set."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from loket_gateway import identity
from loket_gateway.identity import (
    KEYS_FRESH_S,
    LEEWAY_S,
    REFETCH_AFTER_S,
    InvalidToken,
    ProviderUnavailable,
    TokenVerifier,
)

ISSUER, AUDIENCE = "https://idp.example/realms/loket", "loket-gateway"


class KeySet:
    """A JWKS endpoint on 127.0.0.1 that counts how often it is asked."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.requests = 0
        keyset = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                keyset.requests += 1
                body = json.dumps(
                    {
                        "keys": [
                            {**json.loads(RSAAlgorithm.to_jwk(k.public_key())), "kid": kid}
                            | {"use": "sig", "alg": "RS256"}
                            for kid, k in keyset.keys.items()
                        ]
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/certs"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, kid: str) -> Any:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self.keys[kid]


@pytest.fixture
def keyset() -> Iterator[KeySet]:
    served = KeySet()
    served.add("k1")
    served.thread.start()
    try:
        yield served
    finally:
        served.server.shutdown()
        served.server.server_close()


def token(key: Any, kid: str, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u-1", "iat": now, "exp": now + 300}
    body.update(claims)
    return jwt.encode({**body, "roles": ["manager"]}, key, algorithm="RS256", headers={"kid": kid})


def test_keys_are_fetched_once_and_verification_then_needs_no_network(keyset: KeySet) -> None:
    verifier = TokenVerifier(ISSUER, AUDIENCE, keyset.url)
    good = token(keyset.keys["k1"], "k1")
    assert not verifier.ready(good)  # the first token fetches the key set
    assert verifier.verify(good).roles == {"manager"}
    assert verifier.ready(good)
    for _ in range(20):
        verifier.verify(good)
    assert keyset.requests == 1


def test_a_rotated_key_is_fetched_made_up_key_ids_do_not_flood_the_provider(
    keyset: KeySet,
) -> None:
    verifier = TokenVerifier(ISSUER, AUDIENCE, keyset.url)
    verifier.verify(token(keyset.keys["k1"], "k1"))
    rotated = keyset.add("k2")
    for n in range(50):
        with pytest.raises(InvalidToken, match="unknown signing key"):
            verifier.verify(token(rotated, f"made-up-{n}"))
    assert keyset.requests == 1  # within REFETCH_AFTER_S nothing more was asked
    verifier._fetched_at -= REFETCH_AFTER_S + 1  # later: the provider rotated its keys
    assert verifier.verify(token(rotated, "k2")).subject == "u-1"
    assert keyset.requests == 2


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"aud": "another-api"}, "(?i)audience"),
        ({"iss": "https://evil.example/realms/loket"}, "(?i)issuer"),
    ],
)
def test_expired_foreign_or_misaddressed_tokens_are_refused(
    keyset: KeySet, claims: dict[str, Any], why: str
) -> None:
    verifier = TokenVerifier(ISSUER, AUDIENCE, keyset.url)
    with pytest.raises(InvalidToken, match=why):
        verifier.verify(token(keyset.keys["k1"], "k1", **claims))


def test_a_token_signed_with_the_public_key_as_a_secret_is_refused(keyset: KeySet) -> None:
    """The classic algorithm confusion: HS256 keyed with the provider's public key."""
    verifier = TokenVerifier(ISSUER, AUDIENCE, keyset.url)
    verifier.verify(token(keyset.keys["k1"], "k1"))
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "iat": now, "exp": now + 60}
    forged = jwt.api_jws.PyJWS().encode(
        json.dumps(claims).encode(),
        b"public-key-bytes" * 4,
        algorithm="HS256",
        headers={"kid": "k1"},
    )
    with pytest.raises(InvalidToken):
        verifier.verify(forged)


def test_a_provider_that_is_away_is_not_the_callers_fault(keyset: KeySet) -> None:
    keyset.server.shutdown()
    keyset.server.server_close()
    verifier = TokenVerifier(ISSUER, AUDIENCE, keyset.url)
    with pytest.raises(ProviderUnavailable):
        verifier.verify(token(keyset.keys["k1"], "k1"))


def test_a_remembered_token_is_refused_once_it_expires(keyset: KeySet) -> None:
    verifier = TokenVerifier(ISSUER, AUDIENCE, keyset.url)
    expires = int(time.time()) - LEEWAY_S + 1  # accepted for about one more second
    nearly = token(keyset.keys["k1"], "k1", exp=expires)
    assert verifier.verify(nearly).subject == "u-1"
    assert verifier.remembered(nearly) is not None
    while time.time() <= expires + LEEWAY_S + 1:  # the clock, not something to await
        time.sleep(0.05)
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(nearly)


def test_a_remembered_token_is_refused_once_the_provider_dropped_its_key(
    keyset: KeySet, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = TokenVerifier(ISSUER, AUDIENCE, keyset.url)
    old = token(keyset.keys["k1"], "k1")
    assert verifier.verify(old).subject == "u-1"
    keyset.add("k2")
    del keyset.keys["k1"]  # rotated out: tokens it signed must stop working
    assert verifier.verify(old).subject == "u-1"  # the key set in use is still fresh
    later = SimpleNamespace(time=time.time, monotonic=lambda: time.monotonic() + KEYS_FRESH_S)
    monkeypatch.setattr(identity, "time", later)  # the key set in use is no longer fresh
    with pytest.raises(InvalidToken, match="no signing key"):
        verifier.verify(old)
    assert keyset.requests == 2


def test_remembered_tokens_are_bounded_and_checked_again_when_forgotten(
    keyset: KeySet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(identity, "VERIFIED_MAX", 2)
    verifier = TokenVerifier(ISSUER, AUDIENCE, keyset.url)
    first, *others = (token(keyset.keys["k1"], "k1", sub=f"u-{n}") for n in range(3))
    for t in (first, *others):
        verifier.verify(t)
    assert len(verifier._verified) == 2
    decoded: list[str] = []
    decode = jwt.decode

    def counted(t: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(t)
        return decode(t, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counted)
    assert verifier.verify(others[-1]).subject == "u-2"
    assert decoded == []  # remembered: no signature checked again
    assert verifier.verify(first).subject == "u-0"
    assert decoded == [first]  # forgotten first: checked in full
