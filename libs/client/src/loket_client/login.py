"""Logging in as a person: the provider's authorization code flow with PKCE and a loopback
redirect (RFC 8252), as a native app does: the CLI listens on 127.0.0.1 for the one redirect,
the browser does the login. Tokens are kept in LOKET_HOME (default ~/.config/loket), mode
0600, and refreshed with the refresh token while the provider allows it."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

CLIENT_ID = "loket-cli"
DEFAULT_ISSUER = "http://127.0.0.1:18081/realms/loket"  # `loket up`'s Keycloak
REFRESH_BEFORE_S = 30


class NotLoggedIn(Exception):
    """No usable token: the message says what to do."""


def home() -> Path:
    return Path(os.environ.get("LOKET_HOME") or Path.home() / ".config" / "loket")


@dataclass
class Credentials:
    issuer: str
    access_token: str
    refresh_token: str | None
    expires_at: float  # epoch seconds

    @property
    def path(self) -> Path:
        return home() / "credentials.json"

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch(mode=0o600)
        self.path.chmod(0o600)
        self.path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls) -> Credentials | None:
        path = home() / "credentials.json"
        return cls(**json.loads(path.read_text())) if path.exists() else None


def _tokens(issuer: str, form: dict[str, str]) -> Credentials:
    resp = httpx.post(f"{issuer}/protocol/openid-connect/token", data=form, timeout=15)
    if resp.status_code != 200:
        raise NotLoggedIn(f"the provider refused ({resp.status_code}): run `loket login`")
    body: dict[str, Any] = resp.json()
    return Credentials(
        issuer,
        body["access_token"],
        body.get("refresh_token"),
        time.time() + float(body.get("expires_in", 60)),
    )


def current_token() -> str:
    """LOKET_TOKEN if set, else the stored login's access token (refreshed when due)."""
    if os.environ.get("LOKET_TOKEN"):
        return os.environ["LOKET_TOKEN"]
    found = Credentials.load()
    if found is None:
        raise NotLoggedIn("not logged in: run `loket login` (or set LOKET_TOKEN)")
    if found.expires_at - REFRESH_BEFORE_S > time.time():
        return found.access_token
    if not found.refresh_token:
        raise NotLoggedIn("the login has expired: run `loket login`")
    form = {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "refresh_token": found.refresh_token,
    }
    fresh = _tokens(found.issuer, form)
    fresh.save()
    return fresh.access_token


class _Redirect(BaseHTTPRequestHandler):
    got: dict[str, str]  # per login: a subclass with its own dict

    def do_GET(self) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        if urlsplit(self.path).path != "/callback" or "state" not in query:
            self.send_error(404)
            return
        type(self).got.update(query)
        body = b"Logged in to Loket. You can close this window and go back to the terminal.\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def login(issuer: str, show: Any, open_browser: bool = True, timeout_s: float = 300) -> Credentials:
    """Run the flow; `show(url)` tells the person where to log in."""
    verifier, state = secrets.token_urlsafe(48), secrets.token_urlsafe(24)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    handler: type[_Redirect] = type("Redirect", (_Redirect,), {"got": {}})
    server = HTTPServer(("127.0.0.1", 0), handler)
    redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/callback"
    query = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "scope": "openid",
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
    }
    url = f"{issuer}/protocol/openid-connect/auth?{urlencode(query)}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        show(url)
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        end = time.monotonic() + timeout_s
        while not handler.got and time.monotonic() < end:
            time.sleep(0.1)
    finally:
        server.shutdown()
        server.server_close()
    got: dict[str, str] = handler.got
    if not got:
        raise NotLoggedIn(f"no login within {timeout_s:.0f}s")
    if got.get("state") != state or "code" not in got:
        raise NotLoggedIn(f"the login did not complete: {got.get('error', 'wrong state')}")
    form = {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "code": got["code"],
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    found = _tokens(issuer, form)
    found.save()
    return found
