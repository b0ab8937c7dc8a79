"""The authorization matrix, cell by cell: every route as every actor, with real Keycloak
tokens, against the running platform. "allow" means the request got past authentication and
authorization (its answer is the route's own: 2xx, or a 409/422 about the application's state);
"deny" is 401 (no valid token, with WWW-Authenticate), 403 (the role or facility is wrong) or
404 (another organisation's application or undertaking: its existence does not leak).

The README's matrix is this table."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from loket_infra.stack import EmbeddedStack

from .conftest import T0, Facility, Loket, acting_client

ACTORS = [
    "anonymous",
    "invalid",
    "foreign",
    "owner",
    "other_org",
    "facility",
    "other_facility",
    "manager",
    "auditor",
]
ALL = set(ACTORS)
PROGRAMME = {"manager", "auditor"}
READERS = {"owner", *PROGRAMME}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {app}: the owner's application awaiting acceptance; {done}: a cancelled one
    allowed: set[str]
    body: Callable[[World], Any] | None = None


@dataclass
class World:
    app: str
    done: str
    org: str
    facility: str
    slot: str
    terms_sha: str


def _application(w: World) -> Any:
    nowhere = Facility(w.facility, "no.such.service", w.slot, "FR")
    return Loket.application(Loket.applicant("AT", undertaking_id=w.org), (nowhere, 1))


MATRIX = [
    Route("GET", "/v1/catalogue", ALL),
    Route("GET", "/v1/registers/gber_transparency", ALL),
    Route("GET", "/v1/registers/de_minimis", PROGRAMME),
    Route("GET", "/v1/utilisation", PROGRAMME),
    Route("GET", "/v1/calls/LOKET-2026-01/budget", PROGRAMME),
    Route("GET", "/v1/audit", PROGRAMME),
    Route("POST", "/codec/decode", PROGRAMME, lambda w: {"payloads": []}),
    Route("GET", "/v1/applications", {"owner", "other_org", *PROGRAMME}),
    Route("GET", "/v1/applications/{app}", READERS),
    Route("GET", "/v1/applications/{app}/terms", READERS),
    Route("GET", "/v1/applications/{app}/agreement", READERS),
    Route("GET", "/v1/undertakings/{org}/headroom", READERS),
    Route("POST", "/v1/applications", {"owner"}, _application),
    Route("POST", "/v1/applications/{app}/accept", {"owner"}, lambda w: {"terms_sha256": "0" * 64}),
    Route(
        "POST", "/v1/applications/{app}/decline", {"owner"}, lambda w: {"terms_sha256": "0" * 64}
    ),
    Route(
        "POST",
        "/v1/applications/{app}/report",
        {"owner"},
        lambda w: {"summary": "nothing to report yet, the voucher is not issued"},
    ),
    Route(
        "POST", "/v1/applications/{done}/cancel", {"owner", "manager"}, lambda w: {"reason": "x"}
    ),
    Route(
        "POST",
        "/v1/applications/{app}/review",
        {"manager"},
        lambda w: {"approve": True, "reason": "ok"},
    ),
    Route(
        "PUT",
        "/v1/facilities/{facility}/profile",
        {"facility"},
        lambda w: {
            "facility_id": w.facility,
            "sequence": 7,
            "name": "Renamed",
            "site": "Site",
            "country": "FR",
            "kind": "RI",
            "offerings": [
                {
                    "offering_id": "o1",
                    "service_type": "renamed.svc",
                    "unit": "shift",
                    "market_price_eur": 1000,
                    "access_modes": ["physical"],
                }
            ],
        },
    ),
    Route(
        "POST",
        "/v1/facilities/{facility}/slots",
        {"facility"},
        lambda w: {
            "facility_id": w.facility,
            "sequence": 8,
            "slot_id": f"{w.facility}-extra",
            "offering_id": "o1",
            "start": T0.isoformat(),
            "end": (T0 + timedelta(days=1)).isoformat(),
            "capacity_units": 1,
        },
    ),
    Route(
        "POST",
        "/v1/facilities/{facility}/slots/{facility}-gone/withdrawal",
        {"facility"},
        lambda w: {
            "facility_id": w.facility,
            "sequence": 11,
            "slot_id": f"{w.facility}-gone",
            "reason": "maintenance",
        },
    ),
    Route(
        "PUT",
        "/v1/facilities/{facility}/terms",
        {"facility"},
        lambda w: {
            "facility_id": w.facility,
            "sequence": 9,
            "safety_rules": "Wear a badge.",
            "sample_handling": "Samples are returned.",
            "local_law_notes": "French law applies.",
        },
    ),
    Route(
        "POST",
        "/v1/facilities/{facility}/deliveries",
        {"facility"},
        lambda w: {
            "facility_id": w.facility,
            "sequence": 10,
            "application_id": w.app,
            "slot_id": w.slot,
            "units_delivered": 1,
            "delivered_at": T0.isoformat(),
        },
    ),
]


@pytest.fixture(scope="module")
async def world(stack: EmbeddedStack) -> World:
    async with acting_client(stack) as http:
        loket = Loket(stack, http)
        site = await loket.facility("FR", units=4)
        org = f"AT-owner-{uuid.uuid4().hex[:6]}"
        app = await loket.submit(loket.application(loket.applicant("AT", org), (site, 1)))
        terms = await loket.until_terms(app)
        done = await loket.submit(loket.application(loket.applicant("AT", org), (site, 1)))
        await loket.until_terms(done)
        cancelled = await http.post(f"/v1/applications/{done}/cancel", json={"reason": "test"})
        assert cancelled.status_code == 200, cancelled.text
        await loket.wait_stage(done, {"cancelled"})
        return World(app, done, org, site.facility_id, site.slot_id, terms["sha256"])


def _token(stack: EmbeddedStack, world: World, actor: str) -> str | None:
    idp = stack.identity
    return {
        "anonymous": lambda: None,
        "invalid": lambda: "not-a-jwt",
        # a genuine token of the same Keycloak, but another realm (issuer) and audience
        "foreign": idp.admin_token,
        "owner": lambda: idp.applicant(world.org),
        "other_org": lambda: idp.applicant(f"DE-other-{world.org[-6:]}"),
        "facility": lambda: idp.facility(world.facility),
        "other_facility": lambda: idp.facility(f"{world.facility}-other"),
        "manager": lambda: idp.role("manager"),
        "auditor": lambda: idp.role("auditor"),
    }[actor]()


def _denied(resp: httpx.Response) -> bool:
    if resp.status_code in (401, 403):
        return True
    kind = resp.json().get("type", "") if resp.status_code == 404 else ""
    return kind.endswith(("/application-not-found", "/undertaking-not-found"))


CELLS = [(route, actor) for route in MATRIX for actor in ACTORS]


@pytest.mark.parametrize(
    ("route", "actor"),
    CELLS,
    ids=[f"{r.method} {r.path} as {a}" for r, a in CELLS],
)
async def test_authorization_matrix(
    stack: EmbeddedStack, world: World, route: Route, actor: str
) -> None:
    path = route.path.format(app=world.app, done=world.done, org=world.org, facility=world.facility)
    token = _token(stack, world, actor)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = route.body(world) if route.body else None
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60) as http:
        resp = await http.request(route.method, path, json=body, headers=headers)
    assert resp.status_code < 500, resp.text
    if actor in route.allowed:
        assert not _denied(resp), f"{actor} was refused: {resp.status_code} {resp.text}"
    else:
        assert _denied(resp), f"{actor} got through: {resp.status_code} {resp.text}"
        assert resp.headers["content-type"] == "application/problem+json"
        if resp.status_code == 401:
            assert resp.headers["WWW-Authenticate"].startswith('Bearer realm="loket"')
