"""The gateway's side of Temporal: start an application, query it, send a sealed decision."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from loket_contracts import seals
from loket_contracts.application import (
    SA_APPLICANT_COUNTRY,
    SA_CALL,
    SA_PRIORITY_AREA,
    SA_STAGE,
    SEARCH_ATTRIBUTES,
    TASK_QUEUE,
    WORKFLOW_NAME,
    ApplicationInput,
    ApplicationStatus,
    RequestMetadata,
    TermsDecision,
)
from loket_contracts.bounds import TEXT_MAX
from loket_messaging.db import unit_of_work
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from loket_gateway.listings import forget_submitted, record_submitted
from loket_gateway.problems import Problem
from loket_gateway.state import State
from loket_gateway.tables import IdempotencyRow


def not_found(application_id: str) -> Problem:
    return Problem(
        404, "application-not-found", "No such application", f"no application {application_id}"
    )


async def start(client: Client, inp: ApplicationInput) -> None:
    keyword = SearchAttributeKey.for_keyword
    await client.start_workflow(
        WORKFLOW_NAME,
        inp,
        id=inp.application_id,
        task_queue=TASK_QUEUE,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(keyword(SA_STAGE), "submitted"),
                SearchAttributePair(keyword(SA_APPLICANT_COUNTRY), inp.applicant.workplace_country),
                SearchAttributePair(keyword(SA_PRIORITY_AREA), inp.priority_area),
                SearchAttributePair(keyword(SA_CALL), inp.call_id),
            ]
        ),
    )


def remember(
    state: State, key: str, org: str, request_hash: str, inp: ApplicationInput
) -> ApplicationInput:
    """Bind an Idempotency-Key to one request; a retry gets the first application back. Keys
    are per organisation: one organisation's key never finds another's application."""
    scoped = hashlib.sha256(f"{org}\0{key}".encode()).hexdigest()
    try:
        with unit_of_work(state.engine) as session:
            session.add(
                IdempotencyRow(
                    key=scoped,
                    request_sha256=request_hash,
                    application_id=inp.application_id,
                    workflow_input_json=inp.model_dump_json(),
                )
            )
        return inp
    except IntegrityError:
        pass
    with unit_of_work(state.engine) as session:
        row = session.get(IdempotencyRow, scoped)
        assert row is not None
        if row.request_sha256 != request_hash:
            raise Problem(
                422,
                "idempotency-key-reused",
                "Idempotency-Key already used",
                "this Idempotency-Key was used for a different request body",
                application_id=row.application_id,
            )
        return ApplicationInput.model_validate_json(row.workflow_input_json)


def list_submitted(state: State, inp: ApplicationInput) -> None:
    try:
        with unit_of_work(state.engine) as session:
            record_submitted(session, inp)
    except IntegrityError:
        pass  # the same application, listed by a concurrent retry


def unlist(state: State, application_id: str) -> None:
    with unit_of_work(state.engine) as session:
        forget_submitted(session, application_id)


async def query(handle: WorkflowHandle[Any, Any], name: str, result_type: type) -> Any:
    try:
        return await handle.query(name, result_type=result_type)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise not_found(handle.id) from exc
        if exc.status == RPCStatusCode.FAILED_PRECONDITION:
            # Temporal's answer to a query no worker can take ("no poller seen for task queue
            # recently"): the worker is away for a deploy or a crash, not a fault of ours.
            raise Problem(
                503,
                "workflows-unavailable",
                "The application's workflow cannot answer now",
                "no workflow worker is running; retry in a moment",
                {"Retry-After": "5"},
            ) from exc
        raise


async def submitted(client: Client, application_id: str) -> ApplicationInput:
    """What the application was started with: the first event of its history, decoded (and
    decrypted) by the client's converter."""
    handle = client.get_workflow_handle(application_id)
    try:
        async for event in handle.fetch_history_events():
            started = event.workflow_execution_started_event_attributes
            [found] = await client.data_converter.decode(started.input.payloads, [ApplicationInput])
            return ApplicationInput.model_validate(found)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise not_found(application_id) from exc
        raise
    raise not_found(application_id)


def witnessed(decision: TermsDecision, request: Request) -> TermsDecision:
    """The request metadata is the gateway's to state, never the client's."""
    seen = RequestMetadata(
        request_id=str(uuid.uuid4()),
        received_at=datetime.now(UTC),
        client=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent", "")[:TEXT_MAX] or None,
    )
    return decision.model_copy(update={"request": seen})


async def update(
    handle: WorkflowHandle[Any, Any], name: str, decision: BaseModel, actor: seals.Actor
) -> ApplicationStatus:
    """Send a decision sealed with who made it; the workflow checks the seal."""
    sealed = decision.model_copy(
        update={"seal": seals.seal(actor, handle.id, name, datetime.now(UTC))}
    )
    try:
        result: ApplicationStatus = await handle.execute_update(
            name, sealed, result_type=ApplicationStatus
        )
        return result
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        kind = cause.type if isinstance(cause, ApplicationError) else None
        detail = cause.message if isinstance(cause, ApplicationError) else str(exc)
        if kind == "Forbidden":
            raise Problem(403, "forbidden", "Not allowed", detail) from exc
        slug = {"TermsMismatch": "terms-mismatch", "WrongStage": "wrong-stage"}.get(
            kind or "", "update-rejected"
        )
        raise Problem(409, slug, "The decision was not accepted", detail) from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise await _closed_or_missing(handle) from exc
        raise


async def _closed_or_missing(handle: WorkflowHandle[Any, Any]) -> Problem:
    """Temporal says NOT_FOUND for an update to a finished workflow too: tell them apart."""
    try:
        described = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return not_found(handle.id)
        raise
    status = described.status.name if described.status else "closed"
    return Problem(
        409,
        "application-closed",
        "The application is closed",
        f"application {handle.id} has finished ({status.lower()}): it takes no more decisions",
    )


async def register_search_attributes(client: Client, namespace: str) -> None:
    """Managers filter applications in the Temporal UI by these; registering twice is fine."""
    kinds = {
        "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        "KeywordList": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    }
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=namespace,
                search_attributes={k: kinds[v] for k, v in SEARCH_ATTRIBUTES.items()},
            )
        )
    except RPCError as exc:
        if exc.status != RPCStatusCode.ALREADY_EXISTS:
            raise
