"""The console's login: OpenID Connect authorization code flow with PKCE at the programme's
provider (the public client `loket-cli`, whose redirect URIs are the loopback addresses), and
a session cookie for what the token proved.

A session lives as long as the access token that opened it: the provider, not the console,
says how long a login holds (Keycloak's single sign-on brings a person straight back). Sessions
are kept in this gateway's memory: a restarted gateway (or another replica) asks the provider
again, which costs the person nothing while their provider session lasts.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from loket_gateway.identity import Principal

CLIENT_ID = "loket-cli"
COOKIE = "loket_console"
PENDING_S = 600  # a login must come back within this
MAX_PENDING = 1000  # logins begun and not finished: a flood cannot grow memory
MAX_SESSIONS = 10_000


@dataclass(frozen=True)
class Pending:
    verifier: str
    next_path: str
    started: float


@dataclass(frozen=True)
class ConsoleSession:
    principal: Principal
    expires_at: float  # monotonic
    csrf: str  # a form's proof that it came from the console's own page


class LoginFailed(Exception):
    """The provider did not hand over a usable token: the message says why."""


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def safe_next(path: str | None) -> str:
    """Only a path of the console itself: a login link must not send anyone elsewhere."""
    if path and path.startswith("/console") and not path.startswith("//") and "\\" not in path:
        return path
    return "/console"


class Sessions:
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer.rstrip("/")
        self._pending: dict[str, Pending] = {}
        self._active: dict[str, ConsoleSession] = {}
        self._lock = threading.Lock()

    def authorize_url(self, redirect_uri: str, next_path: str) -> str:
        """Begin a login: where to send the browser."""
        state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        now = time.monotonic()
        with self._lock:
            self._pending = {k: p for k, p in self._pending.items() if now - p.started < PENDING_S}
            if len(self._pending) >= MAX_PENDING:
                self._pending.pop(next(iter(self._pending)))
            self._pending[state] = Pending(verifier, safe_next(next_path), now)
        query = {
            "client_id": CLIENT_ID,
            "response_type": "code",
            "scope": "openid",
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256",
        }
        return f"{self.issuer}/protocol/openid-connect/auth?{urlencode(query)}"

    def take_pending(self, state: str) -> Pending:
        with self._lock:
            pending = self._pending.pop(state, None)
        if pending is None or time.monotonic() - pending.started > PENDING_S:
            raise LoginFailed("this login was not begun here, or it took too long")
        return pending

    async def exchange(self, code: str, redirect_uri: str, pending: Pending) -> str:
        """The authorization code for an access token, at the provider's token endpoint."""
        form = {
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": pending.verifier,
        }
        async with httpx.AsyncClient(timeout=10) as http:
            resp = await http.post(f"{self.issuer}/protocol/openid-connect/token", data=form)
        if resp.status_code != 200:
            raise LoginFailed(f"the provider refused the code ({resp.status_code})")
        token = resp.json().get("access_token")
        if not isinstance(token, str):
            raise LoginFailed("the provider's answer has no access token")
        return token

    def open(self, principal: Principal, lifetime_s: float) -> str:
        sid = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            if len(self._active) >= MAX_SESSIONS:
                self._active = {k: s for k, s in self._active.items() if s.expires_at > now}
                if len(self._active) >= MAX_SESSIONS:
                    self._active.pop(next(iter(self._active)))
            self._active[sid] = ConsoleSession(
                principal, now + lifetime_s, secrets.token_urlsafe(24)
            )
        return sid

    def get(self, sid: str | None) -> ConsoleSession | None:
        if not sid:
            return None
        with self._lock:
            found = self._active.get(sid)
            if found is not None and found.expires_at <= time.monotonic():
                del self._active[sid]
                return None
        return found

    def close(self, sid: str | None) -> None:
        with self._lock:
            self._active.pop(sid or "", None)
