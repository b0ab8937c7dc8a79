"""OpenTelemetry end to end: a platform exporting over OTLP to a real endpoint on a socket.

One application, from `POST` to voucher, is one connected trace through the gateway, the
workflow, every service and the answers back into the worker; metrics and logs arrive too."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from loket_contracts.application import SIGNAL_SERVICE_EVENT, WORKFLOW_NAME
from loket_contracts.topics import ELIGIBILITY_COMMANDS
from loket_infra.identities import IdentityProvider
from loket_infra.stack import EmbeddedStack
from loket_testing.otlp import OtlpReceiver, Span

from .conftest import Loket, acting_client, platform
from .test_lifecycle import issued

# Exporters batch: short delays so a test waits seconds, not the defaults' 5 s and 60 s.
QUICK_EXPORT = {
    "OTEL_BSP_SCHEDULE_DELAY": "200",
    "OTEL_BLRP_SCHEDULE_DELAY": "200",
    "OTEL_METRIC_EXPORT_INTERVAL": "1000",
}
SERVICES = ("eligibility", "allocation", "charter", "vouchers")
EXPORT_WAIT_S = 120.0


@pytest.fixture(scope="module")
def otlp() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def traced_stack(
    tmp_path_factory: pytest.TempPathFactory, identity: IdentityProvider, otlp: OtlpReceiver
) -> Iterator[EmbeddedStack]:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint, **QUICK_EXPORT}
    with platform(tmp_path_factory.mktemp("traced"), identity, env=env) as running:
        yield running


@pytest.fixture
async def traced(traced_stack: EmbeddedStack) -> AsyncIterator[Loket]:
    async with acting_client(traced_stack) as http:
        yield Loket(traced_stack, http)


def _parent_of(span: Span, spans: list[Span]) -> Span | None:
    return next((s for s in spans if s.span_id == span.parent_id), None)


def _chain(span: Span, spans: list[Span]) -> list[str]:
    """The services from the root down to `span`."""
    out = [span.service]
    while (parent := _parent_of(span, spans)) is not None:
        out.append(parent.service)
        span = parent
    return out[::-1]


def _tree(spans: list[Span], parent: str, depth: int = 0) -> str:
    """The trace as an indented outline, for a failure's message."""
    out = ""
    for s in spans:
        if s.parent_id == parent:
            out += f"{'  ' * depth}{s.service}: {s.name}\n" + _tree(spans, s.span_id, depth + 1)
    return out


async def test_one_application_is_one_connected_trace(traced: Loket, otlp: OtlpReceiver) -> None:
    site = await traced.facility("DE")
    # The applicant's own trace context: the platform continues it.
    trace_id, root_span = secrets.token_hex(16), secrets.token_hex(8)
    body = traced.application(traced.applicant("AT"), (site, 2))
    resp = await traced.http.post(
        "/v1/applications", json=body, headers={"traceparent": f"00-{trace_id}-{root_span}-01"}
    )
    assert resp.status_code == 202, resp.text
    app_id = resp.json()["application_id"]
    await issued(traced, app_id)

    def whole_trace() -> list[Span] | None:
        spans = otlp.trace(trace_id)
        issued_by_vouchers = [
            s for s in spans if s.service == "loket-vouchers" and "process" in s.name
        ]
        # Each process exports in its own batches, children before parents (they end first):
        # wait until every parent is there and every signal sent has been handled.
        connected = not orphans_of(spans) and not unhandled(spans)
        done = len(issued_by_vouchers) >= 2 and len(answers_read(spans)) >= 4
        return spans if done and connected else None

    def answers_read(spans: list[Span]) -> list[Span]:
        """The worker reading the services' events (its bridge)."""
        return [s for s in spans if s.service == "loket-workflows" and "process" in s.name]

    def unhandled(spans: list[Span]) -> set[str]:
        sent = {s.span_id for s in spans if s.name == f"SignalWorkflow:{SIGNAL_SERVICE_EVENT}"}
        handled = {link for s in spans if s.name.startswith("HandleSignal:") for link in s.links}
        return sent - handled

    def orphans_of(spans: list[Span]) -> list[Span]:
        return [s for s in spans if s.parent_id != root_span and _parent_of(s, spans) is None]

    try:
        spans = otlp.wait_for("trace up to the voucher", whole_trace, EXPORT_WAIT_S)
    except AssertionError:
        spans = otlp.trace(trace_id)
        assert not orphans_of(spans), [(s.service, s.name) for s in orphans_of(spans)]
        assert not unhandled(spans), f"signals never handled: {unhandled(spans)}"
        raise
    names = {s.name for s in spans}
    services = {s.service for s in spans}
    assert {f"loket-{name}" for name in (*SERVICES, "gateway", "workflows")} <= services

    # Connected (waited for above): one root, the gateway's, under the applicant's span.
    roots = [s for s in spans if s.parent_id == root_span]
    assert [(s.service, s.name) for s in roots] == [("loket-gateway", "POST /v1/applications")]

    # The shape: gateway → workflow → each service → the answer read in the worker.
    assert {f"StartWorkflow:{WORKFLOW_NAME}", f"RunWorkflow:{WORKFLOW_NAME}"} <= names
    for service in SERVICES:
        consumed = [s for s in spans if s.service == f"loket-{service}" and "process" in s.name]
        assert consumed, f"{service} consumed nothing in the trace"
        assert any(
            _chain(s, spans)[:3] == ["loket-gateway", "loket-gateway", "loket-workflows"]
            for s in consumed
        ), [_chain(s, spans) for s in consumed]
    # A service's answer reaches the worker under the service's span (its bridge reads it and
    # hands it to the waiting send). An event no send waits for becomes a signal, which the
    # workflow's HandleSignal span links to (it is parented by the workflow run).
    answered_by = {_chain(s, spans)[-2] for s in answers_read(spans)}
    assert {f"loket-{name}" for name in SERVICES} <= answered_by, _tree(spans, root_span)
    signals = [s for s in spans if s.name == f"SignalWorkflow:{SIGNAL_SERVICE_EVENT}"]
    handled = [s for s in spans if s.name == f"HandleSignal:{SIGNAL_SERVICE_EVENT}"]
    assert {s.span_id for s in signals} <= {link for s in handled for link in s.links}
    assert all(_chain(s, spans)[-2:] == ["loket-gateway", "loket-workflows"] for s in handled)
    # Each span carries its times (what a trace viewer lays out): the services' work comes
    # after the submit that caused it.
    assert all(0 < s.start_ns <= s.end_ns for s in spans)
    assert all(s.start_ns >= roots[0].start_ns for s in spans if s.service != "loket-gateway")
    # The services' database work is in the trace too.
    assert any(s.service == "loket-vouchers" and s.attributes.get("db.system") for s in spans)


async def test_metrics_and_logs_arrive_with_their_trace(traced: Loket, otlp: OtlpReceiver) -> None:
    site = await traced.facility("FR")
    await traced.until_terms(await traced.submit(traced.application(traced.applicant(), (site, 1))))
    # A record no service can read: parked on the DLQ, counted, and its warning carries the
    # producer's trace id.
    trace_id = secrets.token_hex(16)
    poison = f"poison-{uuid.uuid4().hex[:8]}".encode()
    await traced.produce(
        ELIGIBILITY_COMMANDS,
        poison,
        headers=[("traceparent", f"00-{trace_id}-{secrets.token_hex(8)}-01".encode())],
    )

    def warned() -> list[str] | None:
        lines = [
            line.body
            for line in otlp.logs()
            if line.trace_id == trace_id and line.service == "loket-eligibility"
        ]
        return lines or None

    assert any("dead-lettering" in body for body in otlp.wait_for("log", warned, EXPORT_WAIT_S))

    def counted() -> bool:
        return any(
            p.service == "loket-eligibility"
            and p.attributes.get("messaging.destination.name") == ELIGIBILITY_COMMANDS
            and p.value >= 1
            for p in otlp.points("loket.dlq.records")
        )

    otlp.wait_for("DLQ count", counted, EXPORT_WAIT_S)

    # The platform's gauges: applications by stage, budget burn, outbox age, consumer lag.
    def gauges() -> bool:
        return (
            any(
                p.attributes.get("stage") == "awaiting_acceptance"
                for p in otlp.points("loket.applications")
            )
            and any(
                p.attributes.get("kind") == "reserved" and p.value > 0
                for p in otlp.points("loket.budget")
            )
            and {p.service for p in otlp.points("loket.outbox.age")}
            >= {f"loket-{s}" for s in SERVICES}
            and bool(otlp.points("loket.consumer.lag"))
            and bool(otlp.points("loket.application.stage.duration"))
        )

    otlp.wait_for("the platform's gauges", gauges, EXPORT_WAIT_S)


def test_the_receiver_refuses_what_is_not_otlp(otlp: OtlpReceiver) -> None:
    resp = httpx.post(otlp.endpoint + "/v1/traces", content=b"\xff\xff not protobuf")
    assert resp.status_code == 400
    assert httpx.post(otlp.endpoint + "/v1/elsewhere", content=b"").status_code == 404
