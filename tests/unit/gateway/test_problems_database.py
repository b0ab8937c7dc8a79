"""A database that is away (a restart, a fail-over) is a 503 problem with Retry-After, not a
500: the client may retry, and nothing was changed."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from loket_gateway import problems
from sqlalchemy import exc as db


def app_failing_with(error: Exception) -> TestClient:
    app = FastAPI()
    problems.install(app)

    @app.post("/v1/things")
    async def things() -> None:
        raise error

    return TestClient(app, raise_server_exceptions=False)


def test_a_database_away_is_a_503_to_retry() -> None:
    away = db.OperationalError("INSERT …", {}, ConnectionRefusedError("refused"))
    resp = app_failing_with(away).post("/v1/things")
    assert resp.status_code == 503
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.headers["retry-after"] == "5"
    assert resp.json()["type"].endswith("/database-unavailable")


def test_a_bug_stays_a_500_without_details() -> None:
    resp = app_failing_with(KeyError("secret column")).post("/v1/things")
    assert resp.status_code == 500
    assert "secret" not in resp.text
