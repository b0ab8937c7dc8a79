"""The gateway's applicant routes as typed calls: requests and answers are the contract's
pydantic models, and a refusal is a `ProblemError` with the RFC 9457 problem's title and
detail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from loket_contracts.application import (
    AccessReport,
    ApplicationStatus,
    Cancellation,
    Terms,
    TermsDecision,
)
from loket_contracts.submission import ApplicationAccepted, ApplicationRequest
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


class ProblemError(Exception):
    """The gateway refused: what it said, as a person can read it."""

    def __init__(self, status: int, title: str, detail: str, problem: dict[str, Any]) -> None:
        super().__init__(f"{title}: {detail}" if detail else title)
        self.status, self.title, self.detail, self.problem = status, title, detail, problem

    @classmethod
    def from_response(cls, resp: httpx.Response) -> ProblemError:
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        title = str(body.get("title") or resp.reason_phrase or f"HTTP {resp.status_code}")
        detail = body.get("detail")
        if isinstance(detail, list):  # validation errors: where and what
            detail = "; ".join(
                f"{'.'.join(map(str, e.get('loc', [])))}: {e.get('msg')}" for e in detail
            )
        return cls(resp.status_code, title, str(detail or ""), body)


class LoketClient:
    """`with LoketClient(url, token) as loket:` — `token` may be a callable (refreshed)."""

    def __init__(
        self, base_url: str, token: str | Callable[[], str], timeout_s: float = 30.0
    ) -> None:
        self._token = token if callable(token) else (lambda: token)
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s)

    def __enter__(self) -> LoketClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(
        self, method: str, path: str, body: BaseModel | None = None, **kw: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._token()}", **kw.pop("headers", {})}
        content = body.model_dump_json(exclude_none=True) if body is not None else None
        if content is not None:
            headers["Content-Type"] = "application/json"
        resp = self._http.request(method, path, content=content, headers=headers, **kw)
        if resp.is_error:
            raise ProblemError.from_response(resp)
        return resp

    def _model(self, model: type[M], method: str, path: str, body: BaseModel | None = None) -> M:
        return model.model_validate_json(self._call(method, path, body).content)

    # ---- the applicant's routes -----------------------------------------------------------

    def apply(
        self, request: ApplicationRequest, idempotency_key: str | None = None
    ) -> ApplicationAccepted:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        resp = self._call("POST", "/v1/applications", request, headers=headers)
        return ApplicationAccepted.model_validate_json(resp.content)

    def status(self, application_id: str) -> ApplicationStatus:
        return self._model(ApplicationStatus, "GET", f"/v1/applications/{application_id}")

    def submitted(self, application_id: str) -> ApplicationRequest:
        """The body an application was submitted with (yours, or any for a manager)."""
        return self._model(ApplicationRequest, "GET", f"/v1/applications/{application_id}/request")

    def terms(self, application_id: str) -> Terms:
        return self._model(Terms, "GET", f"/v1/applications/{application_id}/terms")

    def agreement(self, application_id: str, fmt: str = "pdf") -> bytes:
        path = f"/v1/applications/{application_id}/agreement"
        return self._call("GET", path, params={"format": fmt}).content

    def accept(self, application_id: str, terms_sha256: str) -> ApplicationStatus:
        body = TermsDecision(terms_sha256=terms_sha256)
        return self._model(
            ApplicationStatus, "POST", f"/v1/applications/{application_id}/accept", body
        )

    def decline(self, application_id: str, terms_sha256: str, reason: str) -> ApplicationStatus:
        body = TermsDecision(terms_sha256=terms_sha256, reason=reason)
        return self._model(
            ApplicationStatus, "POST", f"/v1/applications/{application_id}/decline", body
        )

    def cancel(self, application_id: str, reason: str) -> ApplicationStatus:
        body = Cancellation(reason=reason)
        return self._model(
            ApplicationStatus, "POST", f"/v1/applications/{application_id}/cancel", body
        )

    def report(self, application_id: str, report: AccessReport) -> ApplicationStatus:
        return self._model(
            ApplicationStatus, "POST", f"/v1/applications/{application_id}/report", report
        )
