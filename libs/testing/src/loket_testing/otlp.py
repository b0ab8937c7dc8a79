"""A real OTLP/HTTP endpoint for tests: it takes what OpenTelemetry exporters send to
`/v1/traces`, `/v1/metrics` and `/v1/logs` (protobuf, optionally gzip) on 127.0.0.1 and keeps
it for assertions. Point a platform's `OTEL_EXPORTER_OTLP_ENDPOINT` at `receiver.endpoint`.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

MAX_BODY = 16 * 1024 * 1024
T = TypeVar("T")


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str  # "" for a root
    name: str
    service: str
    kind: int
    attributes: dict[str, Any]
    links: tuple[str, ...] = ()  # span ids this span links to (a signal to its sender)
    start_ns: int = 0  # Unix time, as the exporting process's clock saw it
    end_ns: int = 0

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


@dataclass(frozen=True)
class Point:
    """One data point of a metric (a gauge's or sum's value, a histogram's count)."""

    metric: str
    service: str
    value: float
    attributes: dict[str, Any]


@dataclass(frozen=True)
class LogLine:
    service: str
    body: str
    severity: str
    trace_id: str  # "" when logged outside a span


@dataclass
class Received:
    spans: list[Span] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    logs: list[LogLine] = field(default_factory=list)


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind and kind not in ("array_value", "kvlist_value") else str(v)


def _attrs(items: Iterator[KeyValue] | Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in items}


def _service(resource: Any) -> str:
    return str(_attrs(resource.attributes).get("service.name", ""))


class OtlpReceiver:
    """`with OtlpReceiver() as otlp:` serves on a free loopback port until the block ends."""

    def __init__(self) -> None:
        self.received = Received()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ---- reading what arrived -------------------------------------------------------------

    def spans(self) -> list[Span]:
        with self._lock:
            return list(self.received.spans)

    def points(self, metric: str) -> list[Point]:
        with self._lock:
            return [p for p in self.received.points if p.metric == metric]

    def logs(self) -> list[LogLine]:
        with self._lock:
            return list(self.received.logs)

    def trace(self, trace_id: str) -> list[Span]:
        return [s for s in self.spans() if s.trace_id == trace_id]

    def wait_for(self, what: str, found: Callable[[], T | None], deadline_s: float) -> T:
        """Poll until `found()` returns something (exporters send in batches)."""
        end = time.monotonic() + deadline_s
        while True:
            result = found()
            if result:
                return result
            if time.monotonic() > end:
                raise AssertionError(f"no {what} within {deadline_s:.0f}s")
            time.sleep(0.2)

    # ---- decoding ---------------------------------------------------------------------------

    def _take_traces(self, req: ExportTraceServiceRequest) -> None:
        spans = [
            Span(
                trace_id=s.trace_id.hex(),
                span_id=s.span_id.hex(),
                parent_id=s.parent_span_id.hex(),
                name=s.name,
                service=_service(rs.resource),
                kind=s.kind,
                attributes=_attrs(s.attributes),
                links=tuple(link.span_id.hex() for link in s.links),
                start_ns=s.start_time_unix_nano,
                end_ns=s.end_time_unix_nano,
            )
            for rs in req.resource_spans
            for ss in rs.scope_spans
            for s in ss.spans
        ]
        with self._lock:
            self.received.spans.extend(spans)

    def _take_metrics(self, req: ExportMetricsServiceRequest) -> None:
        points = []
        for rm in req.resource_metrics:
            service = _service(rm.resource)
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    data = getattr(m, m.WhichOneof("data") or "gauge")
                    for dp in data.data_points:
                        if hasattr(dp, "as_double"):
                            kind = dp.WhichOneof("value")
                            value = float(getattr(dp, kind)) if kind else 0.0
                        else:  # a histogram: how many were recorded
                            value = float(dp.count)
                        points.append(Point(m.name, service, value, _attrs(dp.attributes)))
        with self._lock:
            self.received.points.extend(points)

    def _take_logs(self, req: ExportLogsServiceRequest) -> None:
        lines = [
            LogLine(
                service=_service(rl.resource),
                body=str(_value(r.body)),
                severity=r.severity_text,
                trace_id=r.trace_id.hex() if any(r.trace_id) else "",
            )
            for rl in req.resource_logs
            for sl in rl.scope_logs
            for r in sl.log_records
        ]
        with self._lock:
            self.received.logs.extend(lines)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self
        routes: dict[str, tuple[type[Message], Message, Callable[[Any], None]]] = {
            "/v1/traces": (
                ExportTraceServiceRequest,
                ExportTraceServiceResponse(),
                receiver._take_traces,
            ),
            "/v1/metrics": (
                ExportMetricsServiceRequest,
                ExportMetricsServiceResponse(),
                receiver._take_metrics,
            ),
            "/v1/logs": (
                ExportLogsServiceRequest,
                ExportLogsServiceResponse(),
                receiver._take_logs,
            ),
        }

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                route = routes.get(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                if route is None or length > MAX_BODY:
                    self.send_error(404 if route is None else 413)
                    return
                body = self.rfile.read(length)
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request_type, response, take = route
                request = request_type()
                try:
                    request.ParseFromString(body)
                except DecodeError:
                    self.send_error(400, "not an OTLP protobuf message")
                    return
                take(request)
                out = response.SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, format: str, *args: Any) -> None:
                return None  # quiet: the tests read the spans, not the access log

        return Handler
