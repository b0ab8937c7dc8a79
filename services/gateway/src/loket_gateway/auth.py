"""Who may call what: every non-public route depends on `caller(...)`, which verifies the
bearer token (401 with WWW-Authenticate otherwise) and checks the roles (403). Writes are rate
limited per principal (429) and land in the audit trail with the status they got."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from loket_contracts.seals import Actor
from loket_messaging.db import unit_of_work
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loket_gateway import audit
from loket_gateway.identity import InvalidToken, Principal, ProviderUnavailable
from loket_gateway.listings import owner_of
from loket_gateway.problems import Problem
from loket_gateway.state import State, get_state

APPLICANT, FACILITY, MANAGER, AUDITOR, SERVICE = (
    "applicant",
    "facility",
    "manager",
    "auditor",
    "service",
)
PROGRAMME = (MANAGER, AUDITOR)
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
READS_BY_POST = ("/codec/",)  # Temporal's codec protocol posts what it only wants to read
_bearer = HTTPBearer(auto_error=False, description="an access token of the OIDC provider")


def _is_write(method: str, path: str) -> bool:
    return method in WRITES and not path.startswith(READS_BY_POST)


def _unauthorized(error: str | None, detail: str) -> Problem:
    challenge = 'Bearer realm="loket"'
    if error:
        quoted = detail.encode("ascii", "replace").decode().replace('"', "'")
        challenge += f', error="{error}", error_description="{quoted}"'
    return Problem(
        401, "unauthorized", "Authentication needed", detail, {"WWW-Authenticate": challenge}
    )


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    state: Annotated[State, Depends(get_state)],
) -> Principal:
    if credentials is None:
        raise _unauthorized(None, "send an access token as `Authorization: Bearer <token>`")
    token = credentials.credentials
    try:
        found = state.verifier.remembered(token)  # a token seen before: one look-up
        if found is None:
            if state.verifier.ready(token):  # a known key: ~0.1 ms of CPU, no thread hop
                found = state.verifier.verify(token)
            else:  # the key set is fetched (first use, rotation): off the event loop
                found = await asyncio.to_thread(state.verifier.verify, token)
    except InvalidToken as exc:
        raise _unauthorized("invalid_token", str(exc)[:200]) from exc
    except ProviderUnavailable as exc:
        raise Problem(
            503, "identity-provider-unavailable", "Tokens cannot be checked now", "retry later"
        ) from exc
    request.state.principal = found
    if _is_write(request.method, request.url.path):
        wait = state.write_rate.take(found.subject)
        if wait > 0:
            raise Problem(
                429,
                "too-many-writes",
                "Too many writes",
                f"at most {state.write_rate.per_minute:g} writes a minute per principal",
                {"Retry-After": str(math.ceil(wait))},
            )
    return found


def caller(*roles: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency: the verified principal, if it holds one of `roles`."""

    async def allowed(found: Annotated[Principal, Depends(principal)]) -> Principal:
        if not found.roles & set(roles):
            raise Problem(
                403,
                "forbidden",
                "Not allowed",
                f"this needs the role {' or '.join(roles)}",
            )
        return found

    return allowed


def actor(found: Principal) -> Actor:
    return Actor(
        subject=found.subject,
        name=found.name[:200],
        roles=sorted(found.roles & {APPLICANT, FACILITY, MANAGER, AUDITOR, SERVICE}),
        org=found.org,
    )


async def ensure_owner(state: State, found: Principal, application_id: str) -> None:
    """Managers and auditors see every application; an applicant only its organisation's.
    Anything else is a 404, so whether the application exists does not leak."""
    if found.roles & set(PROGRAMME):
        return
    if found.has(APPLICANT) and found.org:
        owner = await state.read(lambda session: owner_of(session, application_id))
        check_owner(found, owner, application_id)
        return
    check_owner(found, None, application_id)


def check_owner(found: Principal, owner_org: str | None, application_id: str) -> None:
    """`ensure_owner` for a caller that read the application's owner itself (`owner_org`),
    in the same snapshot as what it reads next."""
    if found.roles & set(PROGRAMME):
        return
    if found.has(APPLICANT) and found.org and owner_org == found.org:
        return
    raise Problem(
        404, "application-not-found", "No such application", f"no application {application_id}"
    )


def _clean(value: Any, limit: int) -> Any:
    if value is None:
        return None
    return str(value).replace("\x00", "\\x00")[:limit]


class AuditTrail:
    """ASGI middleware: a write by an authenticated principal is recorded, with the status it
    got, before the answer leaves (a failed record turns the answer into a 500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_write(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                await self._record(scope, message["status"])
            await send(message)

        await self.app(scope, receive, recording_send)

    async def _record(self, scope: Scope, status: int) -> None:
        found: Principal | None = scope.get("state", {}).get("principal")
        if found is None:
            return  # refused before anyone was identified (401): nothing was changed
        route = scope.get("route")
        params: dict[str, Any] = scope.get("path_params", {})
        state: State = scope["app"].state.loket
        entry = {
            "subject": _clean(found.subject, 200),
            "name": _clean(found.name, 200),
            "roles": _clean(",".join(sorted(found.roles)), 200),
            "org": found.org and _clean(found.org, 120),
            "action": _clean(getattr(route, "name", "unknown"), 80),
            "method": scope["method"],
            # What the client sent, refused or not: bounded and without NUL (PostgreSQL
            # text takes none), so recording an attack never fails.
            "path": _clean(scope.get("path", ""), 600),
            "application_id": _clean(
                params.get("application_id") or scope.get("state", {}).get("application_id"),
                200,
            ),
            "facility_id": _clean(params.get("facility_id"), 200),
            "status": status,
            "request_id": uuid.uuid4().hex,
        }

        def write() -> None:
            with unit_of_work(state.engine) as session:
                audit.record(session, **entry)

        await asyncio.to_thread(write)
