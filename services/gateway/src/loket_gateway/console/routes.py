"""The console's routes: login, panels, CSV exports and an application's page with the review
decision. Managers and auditors only; an auditor reads and cannot decide."""

from __future__ import annotations

import csv
import io
import json
import secrets
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import plotly
from fastapi import APIRouter, Depends, Form, Request
from fastapi import Path as FastPath
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from loket_contracts.application import (
    QUERY_STATUS,
    UPDATE_REVIEW,
    ApplicationStatus,
    ManagerDecision,
    Stage,
)
from loket_contracts.bounds import ID_MAX

from loket_gateway import temporal_ops
from loket_gateway.auth import MANAGER, PROGRAMME, actor
from loket_gateway.console.login import COOKIE, ConsoleSession, LoginFailed, Sessions, safe_next
from loket_gateway.console.panels import Cell, Panel, Table, panels
from loket_gateway.identity import InvalidToken
from loket_gateway.problems import Problem
from loket_gateway.state import ClientDep, State, StateDep

router = APIRouter(prefix="/console", include_in_schema=False)
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
NAV = [(key, key.replace("queue", "work queue").capitalize()) for key in panels()]
Key = Annotated[str, FastPath(min_length=1, max_length=40)]
AppId = Annotated[str, FastPath(min_length=1, max_length=ID_MAX)]


class LoginNeeded(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def sessions_of(state: State) -> Sessions:
    if state.console is None:
        state.console = Sessions(state.verifier.issuer)
    return state.console


def session(request: Request, state: StateDep) -> ConsoleSession:
    found = sessions_of(state).get(request.cookies.get(COOKIE))
    if found is None:
        raise LoginNeeded(request.url.path)
    if not found.principal.roles & set(PROGRAMME):
        raise Problem(403, "forbidden", "Not for you", "the console is for managers and auditors")
    request.state.principal = found.principal  # the audit trail records who decided
    if request.method == "POST" and (wait := state.write_rate.take(found.principal.subject)) > 0:
        raise Problem(429, "too-many-writes", "Too many writes", f"retry in {wait:.0f}s")
    return found


Who = Annotated[ConsoleSession, Depends(session)]


def _redirect_uri(request: Request) -> str:
    return str(request.url_for("callback"))


@router.get("/login")
async def login(request: Request, state: StateDep, next: str | None = None) -> RedirectResponse:
    url = sessions_of(state).authorize_url(_redirect_uri(request), safe_next(next))
    return RedirectResponse(url, status_code=303)


@router.get("/callback", name="callback")
async def callback(request: Request, state: StateDep) -> RedirectResponse:
    # Read by hand: OAuth's `state` parameter would clash with the gateway's State.
    params = request.query_params
    sessions = sessions_of(state)
    try:
        if params.get("error"):
            raise LoginFailed(f"the provider said: {params.get('error')}"[:200])
        pending = sessions.take_pending(params.get("state", ""))
        token = await sessions.exchange(params.get("code", ""), _redirect_uri(request), pending)
        principal = state.verifier.verify(token)
        lifetime = max(30.0, _expires_in(token))
    except (LoginFailed, InvalidToken) as exc:
        raise Problem(401, "login-failed", "The login did not complete", str(exc)) from exc
    response = RedirectResponse(pending.next_path, status_code=303)
    response.set_cookie(
        COOKIE,
        sessions.open(principal, lifetime),
        max_age=int(lifetime),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/console",
    )
    return response


def _expires_in(token: str) -> float:
    import jwt

    claims = jwt.decode(token, options={"verify_signature": False})  # verified just before
    return float(claims["exp"]) - time.time()


@router.get("/logout")
async def logout(request: Request, state: StateDep) -> RedirectResponse:
    sessions_of(state).close(request.cookies.get(COOKIE))
    response = RedirectResponse(
        f"{state.verifier.issuer}/protocol/openid-connect/logout", status_code=303
    )
    response.delete_cookie(COOKIE, path="/console")
    return response


@router.get("/static/plotly.min.js")
async def plotly_js() -> FileResponse:
    return FileResponse(PLOTLY_JS, headers={"Cache-Control": "max-age=86400"})


@router.get("")
async def home() -> RedirectResponse:
    return RedirectResponse("/console/queue", status_code=303)


@dataclass(frozen=True)
class Shown:
    text: str
    number: bool
    link: str | None = None


def _shown(cell: Cell) -> str:
    if isinstance(cell, Decimal):  # money keeps its cents; whole counts read as counts
        exponent = cell.as_tuple().exponent
        return f"{cell:,.2f}" if isinstance(exponent, int) and exponent < 0 else f"{cell:,}"
    return str(cell)


def _cells(table: Table) -> list[list[Shown]]:
    return [
        [
            Shown(
                _shown(cell),
                isinstance(cell, int | Decimal),
                table.links.get(i) if j == 0 else None,
            )
            for j, cell in enumerate(row)
        ]
        for i, row in enumerate(table.rows)
    ]


def _page(template: str, who: ConsoleSession, **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    html = TEMPLATES.get_template(template).render(
        nav=NAV, who=who.principal.name, nonce=nonce, csrf=who.csrf, **context
    )
    policy = (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": policy})


async def _panel(key: str, state: State) -> Panel:
    make = panels().get(key)
    if make is None:
        raise Problem(404, "not-found", "No such panel", f"the console has no panel {key!r}")
    return await make(state)


@router.get("/applications/{application_id}")
async def application(
    application_id: AppId, state: StateDep, temporal: ClientDep, who: Who
) -> HTMLResponse:
    handle = temporal.get_workflow_handle(application_id)
    status = await temporal_ops.query(handle, QUERY_STATUS, ApplicationStatus)
    return _page(
        "application.html",
        who,
        panel=Panel("application", f"Application {application_id}", [], []),
        status=status,
        details=json.dumps(status.model_dump(mode="json"), indent=2),
        can_decide=status.stage == Stage.MANUAL_REVIEW and MANAGER in who.principal.roles,
    )


@router.post("/applications/{application_id}/review")
async def review(
    application_id: AppId,
    temporal: ClientDep,
    who: Who,
    decision: Annotated[str, Form(pattern="^(approve|reject)$")],
    reason: Annotated[str, Form(min_length=1, max_length=1000)],
    csrf: Annotated[str, Form(max_length=100)],
) -> RedirectResponse:
    if not secrets.compare_digest(csrf, who.csrf):
        raise Problem(403, "forbidden", "Not from the console", "the form's token does not match")
    if MANAGER not in who.principal.roles:
        raise Problem(403, "forbidden", "Managers decide", "an auditor reads, and cannot decide")
    handle = temporal.get_workflow_handle(application_id)
    body = ManagerDecision(approve=decision == "approve", reason=reason)
    await temporal_ops.update(handle, UPDATE_REVIEW, body, actor(who.principal))
    return RedirectResponse(f"/console/applications/{application_id}", status_code=303)


@router.get("/{key}")
async def panel(key: Key, state: StateDep, who: Who) -> HTMLResponse:
    shown = await _panel(key, state)
    plots = [figure.to_json() for figure in shown.plots]
    cells = {t.name: _cells(t) for t in shown.tables}
    return _page("console.html", who, panel=shown, plots=plots, cells=cells)


@router.get("/{key}/{table}.csv")
async def table_csv(
    key: Key, table: Annotated[str, FastPath(max_length=60)], state: StateDep, who: Who
) -> PlainTextResponse:
    shown = await _panel(key, state)
    found = next((t for t in shown.tables if t.name == table), None)
    if found is None:
        raise Problem(404, "not-found", "No such table", f"{key} has no table {table!r}")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(found.columns)
    writer.writerows(found.rows)
    return PlainTextResponse(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{found.name}.csv"'},
    )
