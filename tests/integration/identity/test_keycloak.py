"""The identity provider in the stack is a real Keycloak with the Loket realm: people and
facilities get RS256 access tokens carrying what the gateway needs (audience, roles,
organisation, facility), and the gateway's verifier accepts exactly those (signature against
the JWKS, issuer, audience, expiry) and nothing forged."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import replace

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from loket_gateway.identity import InvalidToken, TokenVerifier
from loket_infra import keycloak as kc
from loket_infra.identities import DEMO_FACILITY, IdentityProvider, running_provider


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityProvider]:
    with running_provider(tmp_path_factory.mktemp("keycloak")) as started:
        yield started


@pytest.fixture
def verifier(provider: IdentityProvider) -> TokenVerifier:
    return TokenVerifier(provider.issuer, kc.AUDIENCE)


def test_an_applicant_is_a_person_of_an_organisation(
    provider: IdentityProvider, verifier: TokenVerifier
) -> None:
    principal = verifier.verify(provider.person("ada@qubitron.example"))
    assert principal.roles == {"applicant"} and principal.org == "AT-qubitron"
    assert principal.name == "Ada Qubit" and principal.subject
    assert jwt.get_unverified_header(provider.person("ada@qubitron.example"))["alg"] == "RS256"


def test_managers_and_auditors_have_their_roles(
    provider: IdentityProvider, verifier: TokenVerifier
) -> None:
    assert verifier.verify(provider.person("mina@manager.example")).roles == {"manager"}
    auditor = verifier.verify(provider.person("otto@audit.example"))
    assert auditor.roles == {"auditor"} and auditor.org is None


def test_a_facility_client_acts_as_its_facility(
    provider: IdentityProvider, verifier: TokenVerifier
) -> None:
    principal = verifier.verify(provider.facility(DEMO_FACILITY))
    assert principal.roles == {"facility"} and principal.facility_id == "fac-fr-grenoble"


def test_a_wrong_password_gets_no_token(provider: IdentityProvider) -> None:
    with pytest.raises(httpx.HTTPStatusError, match="401"):
        IdentityProvider(
            provider.port, replace(provider.credentials, demo_password="wrong")
        ).person("ada@qubitron.example")


def _tampered(token: str, **claims: object) -> str:
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body.update(claims)
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_forged_tokens_are_refused(provider: IdentityProvider, verifier: TokenVerifier) -> None:
    genuine = provider.person("ada@qubitron.example")
    kid = jwt.get_unverified_header(genuine)["kid"]
    own_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = jwt.decode(genuine, options={"verify_signature": False})
    forged = {
        "a role added": _tampered(genuine, roles=["manager"]),
        "signed with another key": jwt.encode(
            claims, own_key, algorithm="RS256", headers={"kid": kid}
        ),
        "no signature": jwt.encode(claims, key="", algorithm="none", headers={"kid": kid}),
        "expired": jwt.encode(
            {**claims, "exp": int(time.time()) - 3600},
            own_key,
            algorithm="RS256",
            headers={"kid": kid},
        ),
    }
    for what, token in forged.items():
        with pytest.raises(InvalidToken):
            verifier.verify(token)
            pytest.fail(f"accepted a token with {what}")


def test_another_audience_or_issuer_is_refused(provider: IdentityProvider) -> None:
    token = provider.person("ada@qubitron.example")
    with pytest.raises(InvalidToken, match=r"(?i)audience"):
        TokenVerifier(provider.issuer, "some-other-api").verify(token)
    jwks = f"{provider.issuer}/protocol/openid-connect/certs"
    with pytest.raises(InvalidToken, match=r"(?i)issuer"):
        TokenVerifier("http://127.0.0.1:1/realms/other", kc.AUDIENCE, jwks).verify(token)
