"""FastAPI routes: thin translations from HTTP to Temporal (applications) and Kafka (capacity)."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from aiokafka import AIOKafkaProducer
from fastapi import Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse
from loket_contracts import capacity as cap
from loket_contracts import messages as m
from loket_contracts.application import (
    DEFAULT_RESEND_AFTER_S,
    DEFAULT_STUCK_NOTICE_S,
    QUERY_STATUS,
    QUERY_TERMS,
    SA_APPLICANT_COUNTRY,
    SA_CALL,
    SA_PRIORITY_AREA,
    SA_STAGE,
    SEARCH_ATTRIBUTES,
    TASK_QUEUE,
    UPDATE_ACCEPT_TERMS,
    UPDATE_CANCEL,
    UPDATE_DECLINE_TERMS,
    UPDATE_REVIEW,
    UPDATE_SUBMIT_REPORT,
    WORKFLOW_NAME,
    AccessReport,
    ApplicationInput,
    ApplicationStatus,
    Cancellation,
    ManagerDecision,
    RequestMetadata,
    Stage,
    Terms,
    TermsDecision,
)
from loket_contracts.bounds import ID_MAX, INT64_MAX, TEXT_MAX, CallId, Eur
from loket_contracts.capacity import PriorityArea
from loket_contracts.envelope import make_event
from loket_contracts.messages import Applicant, Language, Needs
from loket_contracts.scheme import load_scheme
from loket_contracts.topics import (
    ALLOCATION_QUERIES,
    ALLOCATION_REPLIES,
    FACILITY_CAPACITY,
    VOUCHERS_QUERIES,
    VOUCHERS_REPLIES,
)
from loket_messaging.db import make_engine, unit_of_work
from loket_messaging.kafka import make_producer
from loket_messaging.migrations import upgrade
from loket_messaging.settings import Settings
from pydantic import BaseModel, Field, field_validator
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
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from loket_gateway import problems
from loket_gateway.limits import BodyLimit
from loket_gateway.listings import (
    ApplicationListing,
    forget_submitted,
    list_applications,
    make_runtime,
    record_submitted,
)
from loket_gateway.problems import Problem
from loket_gateway.requests import KafkaRequests, NoAnswer
from loket_gateway.tables import IdempotencyRow

DEFAULT_CALL = "LOKET-2026-01"
MAX_HEADROOM_POINTS = 400  # keeps the reply far below the broker's message size
ReplyT = TypeVar("ReplyT", bound=BaseModel)


class ApplicationRequest(BaseModel):
    """What a start-up submits: who it is, what it needs, in which call."""

    applicant: Applicant
    priority_area: PriorityArea
    call_id: CallId = DEFAULT_CALL
    needs: Needs = Field(min_length=1, max_length=20)
    applicant_payment_eur: Eur = Decimal(0)
    language: Language = "en"

    @field_validator("applicant")
    @classmethod
    def _registered_in_the_past(cls, applicant: Applicant) -> Applicant:
        if applicant.registered_on > datetime.now(UTC).date():
            raise ValueError("registered_on is in the future")
        return applicant


# Path parameters: bounded like the contracts' ids, so no id outgrows a column or a
# Temporal search attribute.
AppId = Annotated[str, Path(min_length=1, max_length=ID_MAX)]
FacilityId = Annotated[str, Path(min_length=1, max_length=ID_MAX)]
SlotId = Annotated[str, Path(min_length=1, max_length=ID_MAX)]
UndertakingId = Annotated[str, Path(min_length=1, max_length=ID_MAX)]
CallPath = Annotated[str, Path(min_length=1, max_length=64)]


class ApplicationAccepted(BaseModel):
    application_id: str
    stage: str
    links: dict[str, str]


class Published(BaseModel):
    event_id: str
    topic: str
    type: str


class State:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(settings.database_url)
        self.client: Client | None = None
        self.producer: AIOKafkaProducer | None = None
        self.requests: KafkaRequests | None = None
        self.manager_token = os.environ.get("LOKET_MANAGER_TOKEN", "")
        # Durations come from the scheme configuration; the environment may shorten them
        # (the demo shows an expiry in seconds, not days).
        scheme = load_scheme()
        lifecycle = scheme.lifecycle
        self.review_escalation_s = int(
            os.environ.get(
                "LOKET_REVIEW_ESCALATION_S", lifecycle.review_escalation_days.value * 86400
            )
        )
        self.acceptance_window_s = int(
            os.environ.get("LOKET_ACCEPTANCE_WINDOW_S", lifecycle.acceptance_days.value * 86400)
        )
        self.hold_ttl_s = scheme.allocation.hold_days.value * 86400
        self.voucher_validity_s = int(
            os.environ.get(
                "LOKET_VOUCHER_VALIDITY_S", lifecycle.voucher_validity_days.value * 86400
            )
        )
        self.access_report_s = int(
            os.environ.get("LOKET_ACCESS_REPORT_S", lifecycle.access_report_days.value * 86400)
        )
        self.resend_after_s = int(os.environ.get("LOKET_RESEND_AFTER_S", DEFAULT_RESEND_AFTER_S))
        self.stuck_notice_s = int(os.environ.get("LOKET_STUCK_NOTICE_S", DEFAULT_STUCK_NOTICE_S))
        self.listings = make_runtime(settings)
        self.calls = frozenset(scheme.budgets)


def get_client(request: Request) -> Client:
    client: Client | None = request.app.state.loket.client
    assert client is not None, "the lifespan connects the Temporal client"
    return client


ClientDep = Annotated[Client, Depends(get_client)]


def create_app(settings: Settings | None = None) -> FastAPI:
    state = State(settings or Settings.from_env("gateway"))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(upgrade, state.engine, "loket_gateway")
        state.client = await Client.connect(
            state.settings.temporal_address,
            namespace=state.settings.temporal_namespace,
            data_converter=pydantic_data_converter,
        )
        await _register_search_attributes(state.client, state.settings.temporal_namespace)
        state.producer = make_producer(state.settings.kafka_bootstrap, "loket-gateway")
        await state.producer.start()
        state.requests = KafkaRequests(
            state.settings.kafka_bootstrap, state.producer, [VOUCHERS_REPLIES, ALLOCATION_REPLIES]
        )
        await state.requests.start()
        try:
            async with state.listings.running():
                yield
        finally:
            await state.requests.stop()
            await state.producer.stop()
            state.engine.dispose()

    app = FastAPI(
        responses=problems.COMMON_RESPONSES,
        title="Loket gateway",
        version="0.1.0",
        description="Apply once for cross-border access to research and technology "
        "infrastructures; facilities publish capacity; managers follow every application.",
        lifespan=lifespan,
    )
    problems.install(app)
    app.add_middleware(BodyLimit)

    def is_manager(authorization: str) -> bool:
        token = state.manager_token
        return bool(token) and hmac.compare_digest(
            authorization.encode(), f"Bearer {token}".encode()
        )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # ---- applicants ----------------------------------------------------------------------

    @app.post(
        "/v1/applications",
        status_code=202,
        response_model=ApplicationAccepted,
        responses=problems.responses(404),
    )
    async def submit(
        req: ApplicationRequest,
        response: Response,
        temporal: ClientDep,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> ApplicationAccepted:
        if req.call_id not in state.calls:
            raise Problem(
                422,
                "unknown-call",
                "No such call",
                f"call {req.call_id!r} is not open; open calls: {', '.join(sorted(state.calls))}",
            )
        request_hash = hashlib.sha256(req.model_dump_json().encode()).hexdigest()
        inp = ApplicationInput(
            application_id=f"app-{uuid.uuid4().hex[:16]}",
            applicant=req.applicant,
            priority_area=req.priority_area,
            call_id=req.call_id,
            needs=req.needs,
            applicant_payment_eur=req.applicant_payment_eur,
            language=req.language,
            acceptance_window_seconds=state.acceptance_window_s,
            review_escalation_seconds=state.review_escalation_s,
            hold_ttl_seconds=state.hold_ttl_s,
            voucher_validity_seconds=state.voucher_validity_s,
            access_report_seconds=state.access_report_s,
            resend_after_seconds=state.resend_after_s,
            stuck_notice_seconds=state.stuck_notice_s,
            submitted_at=datetime.now(UTC),
        )
        if idempotency_key is not None:
            inp = await asyncio.to_thread(_remember, state, idempotency_key, request_hash, inp)
        await asyncio.to_thread(_list, state, inp)
        try:
            await temporal.start_workflow(
                WORKFLOW_NAME,
                inp,
                id=inp.application_id,
                task_queue=TASK_QUEUE,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(SearchAttributeKey.for_keyword(SA_STAGE), "submitted"),
                        SearchAttributePair(
                            SearchAttributeKey.for_keyword(SA_APPLICANT_COUNTRY),
                            inp.applicant.workplace_country,
                        ),
                        SearchAttributePair(
                            SearchAttributeKey.for_keyword(SA_PRIORITY_AREA), inp.priority_area
                        ),
                        SearchAttributePair(SearchAttributeKey.for_keyword(SA_CALL), inp.call_id),
                    ]
                ),
            )
        except WorkflowAlreadyStartedError:
            pass  # a retry with the same Idempotency-Key: the application already runs
        except BaseException:
            # Perhaps nothing started: no listing row for it (the workflow's first stage event
            # lists it again if it did start). The Idempotency-Key stays bound to this very
            # application, so a retry with it starts the same application, never a second.
            await asyncio.to_thread(_unlist, state, inp.application_id)
            raise
        response.headers["Location"] = f"/v1/applications/{inp.application_id}"
        return ApplicationAccepted(
            application_id=inp.application_id,
            stage="submitted",
            links={
                "self": f"/v1/applications/{inp.application_id}",
                "terms": f"/v1/applications/{inp.application_id}/terms",
            },
        )

    @app.get("/v1/applications", response_model=ApplicationListing)
    async def listing(
        stage: Annotated[list[Stage] | None, Query()] = None,
        applicant_country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
        facility_country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
        call_id: Annotated[str | None, Query(max_length=64)] = None,
        priority_area: PriorityArea | None = None,
        offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> ApplicationListing:
        """Applications, newest first, filtered by stage (repeatable), country of the applicant
        or of any facility in the bundle, call and priority area. From the gateway's read
        model: a stage change shows here within moments of happening."""

        def query() -> ApplicationListing:
            with unit_of_work(state.engine) as session:
                return list_applications(
                    session,
                    stage=[str(s) for s in stage or ()],
                    applicant_country=applicant_country,
                    facility_country=facility_country,
                    call_id=call_id,
                    priority_area=priority_area,
                    offset=offset,
                    limit=limit,
                )

        return await asyncio.to_thread(query)

    @app.get(
        "/v1/applications/{application_id}",
        responses=problems.responses(404),
        response_model=ApplicationStatus,
    )
    async def status(application_id: AppId, temporal: ClientDep) -> ApplicationStatus:
        return await _query(
            temporal.get_workflow_handle(application_id), QUERY_STATUS, ApplicationStatus
        )

    @app.get(
        "/v1/applications/{application_id}/terms",
        responses=problems.responses(404, 409),
        response_model=Terms,
    )
    async def terms(application_id: AppId, temporal: ClientDep) -> Terms:
        handle = temporal.get_workflow_handle(application_id)
        found: Terms | None = await _query(handle, QUERY_TERMS, Terms)
        if found is None:
            current = await _query(handle, QUERY_STATUS, ApplicationStatus)
            raise Problem(
                409,
                "terms-not-ready",
                "Terms are not ready",
                f"application {application_id} is in stage {current.stage}",
                stage=current.stage,
            )
        return found

    @app.post(
        "/v1/applications/{application_id}/accept",
        responses=problems.responses(404, 409),
        response_model=ApplicationStatus,
    )
    async def accept(
        application_id: AppId, decision: TermsDecision, request: Request, temporal: ClientDep
    ) -> ApplicationStatus:
        """Accept the agreement whose SHA-256 you read; the acceptance is recorded with who,
        when, which version and language, and this request's metadata."""
        return await _update(
            temporal.get_workflow_handle(application_id),
            UPDATE_ACCEPT_TERMS,
            _witnessed(decision, request),
        )

    @app.post(
        "/v1/applications/{application_id}/review",
        response_model=ApplicationStatus,
        responses=problems.responses(403, 404, 409),
    )
    async def review(
        application_id: AppId,
        decision: ManagerDecision,
        temporal: ClientDep,
        authorization: Annotated[str | None, Header(max_length=4096)] = None,
    ) -> ApplicationStatus:
        """A programme manager approves or rejects an application in manual review
        (`Authorization: Bearer <manager token>`)."""
        if authorization is None or not is_manager(authorization):
            raise Problem(
                403,
                "not-a-manager",
                "Only a programme manager decides reviews",
                "send the manager token as `Authorization: Bearer <token>`",
            )
        return await _update(
            temporal.get_workflow_handle(application_id),
            UPDATE_REVIEW,
            decision.model_copy(update={"role": "manager"}),
        )

    @app.post(
        "/v1/applications/{application_id}/cancel",
        responses=problems.responses(403, 404, 409),
        response_model=ApplicationStatus,
    )
    async def cancel(
        application_id: AppId,
        cancellation: Cancellation,
        temporal: ClientDep,
        authorization: Annotated[str | None, Header(max_length=4096)] = None,
    ) -> ApplicationStatus:
        """The applicant withdraws, or a programme manager (with the manager token) cancels,
        at any stage until the voucher is closed. What the stage holds is given back: slot
        holds, aid headroom and budget; after issuance the unused units and voucher value."""
        role = None
        if authorization is not None:
            if not is_manager(authorization):
                raise Problem(403, "not-a-manager", "The manager token is wrong", "or leave it out")
            role = "manager"
        return await _update(
            temporal.get_workflow_handle(application_id),
            UPDATE_CANCEL,
            cancellation.model_copy(update={"role": role}),
        )

    @app.post(
        "/v1/applications/{application_id}/report",
        responses=problems.responses(404, 409),
        response_model=ApplicationStatus,
    )
    async def report(
        application_id: AppId, access_report: AccessReport, temporal: ClientDep
    ) -> ApplicationStatus:
        """The applicant's access report, due after the last delivery; it closes the file."""
        return await _update(
            temporal.get_workflow_handle(application_id),
            UPDATE_SUBMIT_REPORT,
            access_report.model_copy(update={"submitted_at": None}),
        )

    @app.post(
        "/v1/applications/{application_id}/decline",
        responses=problems.responses(404, 409),
        response_model=ApplicationStatus,
    )
    async def decline(
        application_id: AppId, decision: TermsDecision, request: Request, temporal: ClientDep
    ) -> ApplicationStatus:
        return await _update(
            temporal.get_workflow_handle(application_id),
            UPDATE_DECLINE_TERMS,
            _witnessed(decision, request),
        )

    # ---- queries answered by the services over Kafka (request/reply) ----------------------

    async def ask(
        type_: str,
        body: BaseModel,
        reply_type: str,
        model: type[ReplyT],
        topic: str = VOUCHERS_QUERIES,
    ) -> ReplyT:
        assert state.requests is not None
        try:
            return await state.requests.ask(topic, type_, body, reply_type, model)
        except NoAnswer as exc:
            service = topic.split(".")[1]
            raise Problem(
                504, "no-answer", f"The {service} service did not answer in time", str(exc)
            ) from exc

    @app.get("/v1/catalogue", response_model=m.CatalogueReply)
    async def catalogue(
        service_type: Annotated[str | None, Query(max_length=ID_MAX)] = None,
        country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
        from_time: Annotated[datetime | None, Query(alias="from")] = None,
        to_time: Annotated[datetime | None, Query(alias="to")] = None,
        access_mode: Literal["physical", "remote", "virtual"] | None = None,
        priority_area: PriorityArea | None = None,
        kind: Literal["RI", "TI"] | None = None,
        only_free: bool = True,
        limit: Annotated[int, Query(ge=1, le=500)] = 200,
        offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
    ) -> m.CatalogueReply:
        """The single access point: offerings and free capacity across every facility."""
        q = m.CatalogueQuery(
            service_type=service_type,
            country=country,
            from_time=from_time,
            to_time=to_time,
            access_mode=access_mode,
            priority_area=priority_area,
            kind=kind,
            only_free=only_free,
            limit=limit,
            offset=offset,
        )
        return await ask(
            m.CATALOGUE_QUERY, q, m.CATALOGUE_REPLY, m.CatalogueReply, ALLOCATION_QUERIES
        )

    @app.get("/v1/utilisation", response_model=m.UtilisationReply)
    async def utilisation(
        offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    ) -> m.UtilisationReply:
        """Per facility (a page at a time) and per country: published, held and booked units;
        cross-border flows."""
        return await ask(
            m.UTILISATION_QUERY,
            m.UtilisationQuery(offset=offset, limit=limit),
            m.UTILISATION_REPLY,
            m.UtilisationReply,
            ALLOCATION_QUERIES,
        )

    @app.get("/v1/undertakings/{undertaking_id}/headroom", response_model=m.HeadroomReply)
    async def headroom(
        undertaking_id: UndertakingId,
        from_date: Annotated[date | None, Query(alias="from")] = None,
        to_date: Annotated[date | None, Query(alias="to")] = None,
        step_days: Annotated[int, Query(ge=1, le=366)] = 30,
        linked: Annotated[list[str] | None, Query(max_length=100)] = None,
    ) -> m.HeadroomReply:
        """De minimis and GBER Art. 28 headroom of a single undertaking, date by date."""
        start = from_date or datetime.now(UTC).date()
        end = to_date or start + timedelta(days=365)
        if end < start:
            raise Problem(422, "bad-range", "`to` is before `from`", f"{start} > {end}")
        if (end - start).days // step_days > MAX_HEADROOM_POINTS:
            raise Problem(
                422,
                "range-too-long",
                "Too many dates asked for",
                f"at most {MAX_HEADROOM_POINTS} dates: widen step_days or shorten the range",
            )
        q = m.HeadroomQuery(
            undertaking_id=undertaking_id,
            linked_undertakings=linked or [],
            from_date=start,
            to_date=end,
            step_days=step_days,
        )
        return await ask(m.HEADROOM_QUERY, q, m.HEADROOM_REPLY, m.HeadroomReply)

    @app.get(
        "/v1/calls/{call_id}/budget",
        responses=problems.responses(404),
        response_model=m.BudgetReply,
    )
    async def call_budget(call_id: CallPath) -> m.BudgetReply:
        """Per priority area: total, reserved, granted and available."""
        reply = await ask(
            m.BUDGET_QUERY, m.BudgetQuery(call_id=call_id), m.BUDGET_REPLY, m.BudgetReply
        )
        if not reply.areas:
            raise Problem(404, "call-not-found", "No such call", f"no budget for {call_id}")
        return reply

    @app.get(
        "/v1/registers/{register_id}",
        response_model=m.RegisterReply,
        responses={200: {"content": {"text/csv": {}}}},
    )
    async def register(
        register_id: Literal["gber_transparency", "de_minimis"],
        format: Literal["json", "csv"] = "json",
        offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    ) -> Any:
        """GBER Art. 9 transparency awards over the threshold, or the de minimis register."""
        reply = await ask(
            m.REGISTER_QUERY,
            m.RegisterQuery(register_id=register_id, offset=offset, limit=limit),
            m.REGISTER_REPLY,
            m.RegisterReply,
        )
        if format == "json":
            return reply
        out = io.StringIO()
        writer = csv.writer(out)
        columns = list(m.RegisterRow.model_fields)
        writer.writerow(columns)
        for row in reply.rows:
            writer.writerow([getattr(row, c) for c in columns])
        return PlainTextResponse(
            out.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{register_id}.csv"'},
        )

    # ---- facilities: publish capacity onto the public topic -------------------------------

    async def publish(facility_id: str, type_: str, body: cap._Body) -> Published:
        if body.facility_id != facility_id:
            raise Problem(
                422,
                "facility-mismatch",
                "facility_id does not match the URL",
                f"body facility_id {body.facility_id!r} ≠ {facility_id!r}",
            )
        event = make_event(
            source=f"facility/{facility_id}", type_=type_, body=body, subject=facility_id
        )
        assert state.producer is not None
        await state.producer.send_and_wait(
            FACILITY_CAPACITY,
            value=event.data,
            key=facility_id.encode(),
            headers=event.kafka_headers(),
        )
        return Published(event_id=event.id, topic=FACILITY_CAPACITY, type=type_)

    @app.put("/v1/facilities/{facility_id}/profile", status_code=202, response_model=Published)
    async def facility_profile(facility_id: FacilityId, body: cap.FacilityProfile) -> Published:
        return await publish(facility_id, cap.PROFILE, body)

    @app.post("/v1/facilities/{facility_id}/slots", status_code=202, response_model=Published)
    async def slot_published(facility_id: FacilityId, body: cap.SlotPublished) -> Published:
        return await publish(facility_id, cap.SLOT_PUBLISHED, body)

    @app.post(
        "/v1/facilities/{facility_id}/slots/{slot_id}/withdrawal",
        status_code=202,
        response_model=Published,
    )
    async def slot_withdrawn(
        facility_id: FacilityId, slot_id: SlotId, body: cap.SlotWithdrawn
    ) -> Published:
        if body.slot_id != slot_id:
            raise Problem(
                422,
                "slot-mismatch",
                "slot_id does not match the URL",
                f"body slot_id {body.slot_id!r} ≠ {slot_id!r}",
            )
        return await publish(facility_id, cap.SLOT_WITHDRAWN, body)

    @app.put("/v1/facilities/{facility_id}/terms", status_code=202, response_model=Published)
    async def facility_terms(facility_id: FacilityId, body: cap.FacilityTerms) -> Published:
        """The facility's addendum to the harmonised agreement (for agreements drafted later)."""
        return await publish(facility_id, cap.TERMS, body)

    @app.post("/v1/facilities/{facility_id}/deliveries", status_code=202, response_model=Published)
    async def delivery(facility_id: FacilityId, body: cap.Delivery) -> Published:
        return await publish(facility_id, cap.DELIVERY, body)

    app.state.loket = state
    return app


def _remember(state: State, key: str, request_hash: str, inp: ApplicationInput) -> ApplicationInput:
    """Bind an Idempotency-Key to one request; a retry gets the first application back."""
    try:
        with unit_of_work(state.engine) as session:
            session.add(
                IdempotencyRow(
                    key=key,
                    request_sha256=request_hash,
                    application_id=inp.application_id,
                    workflow_input_json=inp.model_dump_json(),
                )
            )
        return inp
    except IntegrityError:
        pass
    with unit_of_work(state.engine) as session:
        row = session.get(IdempotencyRow, key)
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


async def _query(handle: WorkflowHandle[Any, Any], name: str, result_type: type) -> Any:
    try:
        return await handle.query(name, result_type=result_type)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise Problem(
                404, "application-not-found", "No such application", f"no application {handle.id}"
            ) from exc
        raise


def _witnessed(decision: TermsDecision, request: Request) -> TermsDecision:
    """The request metadata is the gateway's to state, never the client's."""
    seen = RequestMetadata(
        request_id=str(uuid.uuid4()),
        received_at=datetime.now(UTC),
        client=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent", "")[:TEXT_MAX] or None,
    )
    return decision.model_copy(update={"request": seen})


async def _register_search_attributes(client: Client, namespace: str) -> None:
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


async def _update(
    handle: WorkflowHandle[Any, Any], name: str, decision: BaseModel
) -> ApplicationStatus:
    try:
        result: ApplicationStatus = await handle.execute_update(
            name, decision, result_type=ApplicationStatus
        )
        return result
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        kind = cause.type if isinstance(cause, ApplicationError) else None
        detail = cause.message if isinstance(cause, ApplicationError) else str(exc)
        slug = {
            "TermsMismatch": "terms-mismatch",
            "WrongStage": "wrong-stage",
            "Forbidden": "not-a-manager",
        }.get(kind or "", "update-rejected")
        raise Problem(409, slug, "The decision was not accepted", detail) from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise Problem(
                404,
                "application-not-found",
                "No such application",
                f"no running application {handle.id}",
            ) from exc
        raise


def _unlist(state: State, application_id: str) -> None:
    with unit_of_work(state.engine) as session:
        forget_submitted(session, application_id)


def _list(state: State, inp: ApplicationInput) -> None:
    try:
        with unit_of_work(state.engine) as session:
            record_submitted(session, inp)
    except IntegrityError:
        pass  # the same application, listed by a concurrent retry
