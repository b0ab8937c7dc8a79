"""RFC 9457 problem details for every error the gateway returns."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import exc as db
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

from loket_gateway.requests import BadAnswer

log = logging.getLogger("loket.gateway")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://loket.example.eu/problems/"


class ProblemDetails(BaseModel):
    """RFC 9457 problem details: every error the gateway returns has this body."""

    type: str = Field(description="URI naming the kind of problem")
    title: str
    status: int
    detail: str
    instance: str = Field(description="the request path")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="for validation errors: where and what"
    )


_PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
# Every route may answer with these; routes add their own (404, 409, 403...).
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": _PROBLEM_CONTENT, "model": ProblemDetails}
    for status, text in {
        400: "the body is not JSON (or not UTF-8)",
        413: "the request body is too large",
        422: "the request is invalid (RFC 9457 problem with the errors)",
        500: "an unexpected error (a problem body, never plain text)",
        502: "a service answered with something the gateway could not read",
        503: "Temporal or the broker is unavailable; retry later",
        504: "a service did not answer in time; retry later",
    }.items()
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Problem responses a route documents besides the common ones."""
    texts = {
        401: "no valid access token (see WWW-Authenticate)",
        403: "the caller may not do this",
        429: "too many writes by this principal: retry after the Retry-After seconds",
        404: "no such resource",
        409: "the request conflicts with the resource's current state",
        503: "a platform part is away for now: retry later",
    }
    return {
        s: {"description": texts[s], "content": _PROBLEM_CONTENT, "model": ProblemDetails}
        for s in statuses
    }


# Temporal answers that say "not now" rather than "never".
_TEMPORAL_UNAVAILABLE = {
    RPCStatusCode.UNAVAILABLE: 503,
    RPCStatusCode.RESOURCE_EXHAUSTED: 503,
    RPCStatusCode.DEADLINE_EXCEEDED: 504,
    RPCStatusCode.CANCELLED: 503,
}


class Problem(Exception):
    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail, self.extra = (
            status,
            slug,
            title,
            detail,
            extra,
        )
        self.headers = headers or {}


def problem_response(
    request: Request,
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": str(request.url.path),
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_problem(request: Request, raw: Sequence[Any]) -> JSONResponse:
    errors = [
        {"location": ".".join(str(p) for p in err.get("loc", ())), "message": err.get("msg")}
        for err in raw
    ]
    detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors)
    return problem_response(
        request, 422, "validation-error", "The request is invalid", detail, errors=errors
    )


DATABASE_AWAY = (db.OperationalError, db.InterfaceError, db.InvalidatePoolError, db.TimeoutError)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            request, exc.status, exc.slug, exc.title, exc.detail, exc.headers, **exc.extra
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_problem(request, exc.errors())

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            request, exc.status_code, f"http-{exc.status_code}", str(exc.detail), str(exc.detail)
        )

    @app.exception_handler(RPCError)
    async def _temporal(request: Request, exc: RPCError) -> JSONResponse:
        status = _TEMPORAL_UNAVAILABLE.get(exc.status)
        if status is None:
            return await _unexpected(request, exc)
        return problem_response(
            request,
            status,
            "temporal-unavailable",
            "The workflow engine is unavailable",
            f"Temporal answered {exc.status.name}; retry later",
        )

    @app.exception_handler(BadAnswer)
    async def _bad_answer(request: Request, exc: BadAnswer) -> JSONResponse:
        log.error("unreadable answer for %s: %s", request.url.path, exc)
        return problem_response(
            request,
            502,
            "bad-answer",
            "A service answered with something unreadable",
            "the answer did not match its contract; the operators are told",
        )

    @app.exception_handler(ValidationError)
    async def _invalid_query(request: Request, exc: ValidationError) -> JSONResponse:
        # A query or command the gateway builds from what the client sent: the client's input.
        return _validation_problem(request, exc.errors())

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Caught here, outermost, also when the audit trail cannot record: the database is
        # away (restarting, failing over), which is no bug and passes.
        if isinstance(exc, DATABASE_AWAY):
            log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
            return problem_response(
                request,
                503,
                "database-unavailable",
                "The gateway's database is unavailable",
                "nothing was changed; retry in a moment",
                {"Retry-After": "5"},
            )
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(
            request,
            500,
            "internal-error",
            "Something went wrong on our side",
            "the error was logged; nothing you sent was lost",
        )
