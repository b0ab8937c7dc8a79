"""The console's login: PKCE at the provider, only console paths after it, bounded state."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest
from loket_gateway.console import login
from loket_gateway.console.login import LoginFailed, Sessions, safe_next
from loket_gateway.identity import Principal

ISSUER = "http://127.0.0.1:18081/realms/loket"
REDIRECT = "http://127.0.0.1:18080/console/callback"
MANAGER = Principal("sub-1", "Mina Manager", frozenset({"manager"}))


@pytest.mark.parametrize(
    ("asked", "goes_to"),
    [
        ("/console/flows", "/console/flows"),
        (None, "/console"),
        ("https://evil.example/", "/console"),
        ("//evil.example/console", "/console"),
        ("/v1/applications", "/console"),
        ("/console\\..\\x", "/console"),
    ],
)
def test_after_login_only_a_console_page(asked: str | None, goes_to: str) -> None:
    assert safe_next(asked) == goes_to


def test_the_provider_gets_a_pkce_challenge_of_a_secret_verifier() -> None:
    sessions = Sessions(ISSUER)
    url = urlsplit(sessions.authorize_url(REDIRECT, "/console/aid"))
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{ISSUER}/protocol/openid-connect/auth"
    assert (query["client_id"], query["response_type"]) == ("loket-cli", "code")
    assert query["redirect_uri"] == REDIRECT and query["code_challenge_method"] == "S256"
    pending = sessions.take_pending(query["state"])
    digest = hashlib.sha256(pending.verifier.encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert pending.next_path == "/console/aid"
    with pytest.raises(LoginFailed):  # a state is good once
        sessions.take_pending(query["state"])


def test_a_state_not_begun_here_is_refused() -> None:
    with pytest.raises(LoginFailed):
        Sessions(ISSUER).take_pending("made-up")


def test_logins_begun_and_never_finished_cannot_grow_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(login, "MAX_PENDING", 5)
    sessions = Sessions(ISSUER)
    for _ in range(50):
        sessions.authorize_url(REDIRECT, "/console")
    assert len(sessions._pending) <= 5


def test_a_session_ends_with_its_token_and_at_logout(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(login.time, "monotonic", lambda: now[0])
    sessions = Sessions(ISSUER)
    sid = sessions.open(MANAGER, lifetime_s=300)
    found = sessions.get(sid)
    assert found is not None and found.principal == MANAGER and len(found.csrf) > 20
    now[0] += 301
    assert sessions.get(sid) is None
    other = sessions.open(MANAGER, lifetime_s=300)
    sessions.close(other)
    assert sessions.get(other) is None
    assert sessions.get(None) is None
