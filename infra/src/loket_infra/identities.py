"""People and facilities in the identity provider: onboarding through Keycloak's admin REST API
and access tokens through the standard grants, cached until shortly before they expire.

The demo, the e2e tests and `loket token` act through this; the gateway never does (it only
verifies tokens against the provider's published keys)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import secrets
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from loket_infra import keycloak as kc
from loket_infra.processes import READY_DEADLINE_S, free_port, wait_until

ROLES = ("applicant", "facility", "manager", "auditor", "service")
# People of the realm file (infra/keycloak/loket-realm.json), by role.
DEMO_PEOPLE = {
    "applicant": "ada@qubitron.example",
    "manager": "mina@manager.example",
    "auditor": "otto@audit.example",
}
DEMO_FACILITY = "fac-fr-grenoble"
STATE_FILE = "identity.json"  # in a stack's data folder
_REFRESH_BEFORE_S = 30.0


@dataclass
class _Cached:
    token: str
    expires_at: float


@dataclass
class IdentityProvider:
    """One Keycloak realm: who exists in it, and their tokens."""

    port: int
    credentials: kc.Credentials
    _tokens: dict[str, _Cached] = field(default_factory=dict)
    _secrets: dict[str, str] = field(default_factory=dict, repr=False)
    _passwords: dict[str, str] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def save(self, data_dir: Path) -> None:
        """Kept with a stack's data (mode 0600): `loket token` and a restarted stack find the
        provider and its credentials there."""
        path = data_dir / STATE_FILE
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(json.dumps({"port": self.port, **dataclasses.asdict(self.credentials)}))

    @classmethod
    def load(cls, data_dir: Path) -> IdentityProvider:
        saved = json.loads((data_dir / STATE_FILE).read_text())
        return cls(saved.pop("port"), kc.Credentials(**saved))

    @property
    def issuer(self) -> str:
        return kc.issuer(self.port)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ---- tokens ------------------------------------------------------------------------

    def person(self, username: str) -> str:
        """A person's access token (password grant on the public CLI client)."""
        password = self._passwords.get(username, self.credentials.demo_password)
        return self._cached(
            f"person:{username}",
            {
                "grant_type": "password",
                "client_id": kc.CLI_CLIENT,
                "username": username,
                "password": password,
                "scope": "openid",
            },
        )

    def facility(self, facility_id: str) -> str:
        """A facility client's access token (client credentials), onboarding it if new."""
        client_id = f"facility-{facility_id}"
        if facility_id == DEMO_FACILITY:
            secret = self.credentials.facility_secret
        else:
            secret = self._secrets.get(client_id) or self.onboard_facility(facility_id)
        return self._cached(
            f"client:{client_id}",
            {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        )

    def applicant(self, org: str) -> str:
        """A token of a person of organisation `org` (the demo's Ada, or one onboarded now)."""
        if org == "AT-qubitron":
            return self.person(DEMO_PEOPLE["applicant"])
        username = f"owner@{org.lower()}.example"
        if username not in self._passwords:
            self.onboard_person(username, org=org, role="applicant")
        return self.person(username)

    def role(self, role: str) -> str:
        """A demo person holding `role`."""
        return self.person(DEMO_PEOPLE[role])

    def _cached(self, key: str, form: dict[str, str]) -> str:
        with self._lock:
            hit = self._tokens.get(key)
            if hit and hit.expires_at - _REFRESH_BEFORE_S > time.monotonic():
                return hit.token
        resp = httpx.post(f"{self.issuer}/protocol/openid-connect/token", data=form, timeout=60)
        resp.raise_for_status()
        body = resp.json()
        token = str(body["access_token"])
        with self._lock:
            self._tokens[key] = _Cached(token, time.monotonic() + float(body["expires_in"]))
        return token

    # ---- onboarding (admin REST API) ---------------------------------------------------

    def onboard_facility(self, facility_id: str) -> str:
        """A confidential client `facility-<id>` whose tokens carry `facility_id`: the facility
        can then act as itself, and only as itself. Returns its secret (a new one, if the
        facility was onboarded before)."""
        client_id, secret = f"facility-{facility_id}", secrets.token_urlsafe(24)
        with self._admin() as admin:
            made = admin.post(
                "/clients",
                json={
                    "clientId": client_id,
                    "name": f"Facility {facility_id}",
                    "publicClient": False,
                    "secret": secret,
                    "serviceAccountsEnabled": True,
                    "standardFlowEnabled": False,
                    "directAccessGrantsEnabled": False,
                    "defaultClientScopes": ["loket"],
                },
            )
            if made.status_code == 409:  # onboarded before: a new secret for it
                [known] = admin.get("/clients", params={"clientId": client_id}).json()
                fresh = admin.post(f"/clients/{known['id']}/client-secret").raise_for_status()
                secret = str(fresh.json()["value"])
            else:
                made.raise_for_status()
                internal = made.headers["Location"].rsplit("/", 1)[1]
                user = admin.get(f"/clients/{internal}/service-account-user").raise_for_status()
                account: dict[str, Any] = user.json()
                account["attributes"] = {"facility_id": [facility_id]}
                admin.put(f"/users/{account['id']}", json=account).raise_for_status()
                self._grant(admin, account["id"], "facility")
        self._secrets[client_id] = secret
        return secret

    def onboard_person(self, username: str, *, org: str | None, role: str) -> None:
        password = secrets.token_urlsafe(16)
        attributes = {"org": [org]} if org else {}
        with self._admin() as admin:
            made = admin.post(
                "/users",
                json={
                    "username": username,
                    "email": username,
                    "emailVerified": True,
                    "firstName": username.split("@")[0].title(),
                    "lastName": org or role.title(),
                    "enabled": True,
                    "attributes": attributes,
                    "credentials": [{"type": "password", "value": password, "temporary": False}],
                },
            )
            if made.status_code == 409:  # known already: a new password for this session
                [known] = admin.get("/users", params={"username": username, "exact": "true"}).json()
                admin.put(
                    f"/users/{known['id']}/reset-password",
                    json={"type": "password", "value": password, "temporary": False},
                ).raise_for_status()
            else:
                made.raise_for_status()
                self._grant(admin, made.headers["Location"].rsplit("/", 1)[1], role)
        self._passwords[username] = password

    @staticmethod
    def _grant(admin: httpx.Client, user_id: str, role: str) -> None:
        found = admin.get(f"/roles/{role}").raise_for_status()
        admin.post(f"/users/{user_id}/role-mappings/realm", json=[found.json()]).raise_for_status()

    def admin_token(self) -> str:
        """The master realm administrator's token (another issuer and audience than Loket's)."""
        resp = httpx.post(
            f"{self.base}/realms/master/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": "admin",
                "password": self.credentials.admin_password,
            },
            timeout=60,
        )
        resp.raise_for_status()
        return str(resp.json()["access_token"])

    def _admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.base}/admin/realms/{kc.REALM}",
            headers={"Authorization": f"Bearer {self.admin_token()}"},
            timeout=60,
        )


@contextlib.contextmanager
def running_provider(log_dir: Path) -> Iterator[IdentityProvider]:
    """A Keycloak of its own on a free loopback port, stopped on exit (tests, benchmarks)."""
    port, credentials = free_port(), kc.Credentials()
    proc = kc.keycloak(port, log_dir / "keycloak.log", credentials)
    proc.start()
    try:
        wait_until("Keycloak", lambda: kc.realm_ready(port), READY_DEADLINE_S, proc.alive, proc.log)
        yield IdentityProvider(port, credentials)
    finally:
        proc.stop()


PUBLIC = ("/v1/catalogue", "/v1/registers/gber_transparency", "/healthz")


class ActingAs(httpx.Auth):
    """Acts, for each request, as whoever may legitimately make it: the owning organisation's
    person for its applications, the facility itself for its publications, a programme
    manager for reviews and the programme's reads, nobody for the public routes. A request
    that already carries an Authorization header is sent as it is. (For the demo and tests.)"""

    requires_request_body = True
    requires_response_body = True

    def __init__(self, identity: IdentityProvider) -> None:
        self.identity = identity
        self.owners: dict[str, str] = {}  # application id → organisation

    def token_for(self, request: httpx.Request) -> str | None:
        path, parts = request.url.path, request.url.path.strip("/").split("/")
        if path.startswith(PUBLIC):
            return None
        if path == "/v1/applications" and request.method == "POST":
            return self.identity.applicant(_org_of(request.content) or "AT-qubitron")
        if parts[:2] == ["v1", "facilities"] and len(parts) > 2:
            return self.identity.facility(parts[2])
        if parts[:2] == ["v1", "applications"] and len(parts) > 2 and parts[-1] != "review":
            org = self.owners.get(parts[2])
            if org is not None:
                return self.identity.applicant(org)
        return self.identity.role("manager")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if "authorization" not in request.headers:
            token = self.token_for(request)
            if token is not None:
                request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if request.url.path == "/v1/applications" and response.status_code == 202:
            org = _org_of(request.content)
            if org is not None:
                self.owners[str(response.json()["application_id"])] = org


def _org_of(content: bytes) -> str | None:
    try:
        found = json.loads(content)["applicant"]["undertaking_id"]
    except (ValueError, KeyError, TypeError):
        return None
    return found if isinstance(found, str) else None
