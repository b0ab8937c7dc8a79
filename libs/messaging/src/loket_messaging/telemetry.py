"""OpenTelemetry for every Loket process: traces, metrics and logs over OTLP.

Configured only by the standard variables (`OTEL_EXPORTER_OTLP_ENDPOINT` or one endpoint per
signal, `OTEL_{TRACES,METRICS,LOGS}_EXPORTER=none`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_*`,
`OTEL_METRIC_EXPORT_INTERVAL`, `OTEL_SDK_DISABLED`...). A signal is exported only where an
endpoint is named for it: an unconfigured process installs nothing and pays nothing.
The exporters speak OTLP over HTTP/protobuf (Jaeger and the OpenTelemetry Collector take it on
4318).

W3C trace context travels as `traceparent`/`tracestate` Kafka headers next to the CloudEvents'
`ce_*` ones: `inject()` adds them where an event is made, FastStream's telemetry middleware
reads them where it is consumed, and Temporal's tracing interceptor carries them into
workflows, activities and signals.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import MutableSequence, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import propagate, trace

if TYPE_CHECKING:
    from faststream._internal.types import BrokerMiddleware
    from temporalio.client import Interceptor

log = logging.getLogger("loket.telemetry")
SIGNALS = ("traces", "metrics", "logs")
LOG_FORMAT = "%(asctime)s {process} %(levelname)s %(message)s"
# With telemetry on, each line says which trace and span it belongs to (0s outside one).
TRACED_LOG_FORMAT = (
    "%(asctime)s {process} %(levelname)s [trace=%(otelTraceID)s span=%(otelSpanID)s] %(message)s"
)


def _set(variable: str) -> str:
    return os.environ.get(variable, "").strip()


def exported(signal: str) -> bool:
    """Whether `signal` (traces, metrics, logs) goes anywhere."""
    if _set("OTEL_SDK_DISABLED").lower() == "true":
        return False
    if _set(f"OTEL_{signal.upper()}_EXPORTER").lower() == "none":
        return False
    return bool(
        _set("OTEL_EXPORTER_OTLP_ENDPOINT") or _set(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT")
    )


def enabled() -> bool:
    return any(exported(signal) for signal in SIGNALS)


@dataclass
class Telemetry:
    """What `setup` installed, to flush before a process ends (also done at exit)."""

    process: str

    def flush(self) -> None:
        from opentelemetry import metrics
        from opentelemetry._logs import get_logger_provider

        for provider in (trace.get_tracer_provider(), metrics.get_meter_provider()):
            force = getattr(provider, "force_flush", None)
            if force is not None:
                force()
        force = getattr(get_logger_provider(), "force_flush", None)
        if force is not None:
            force()


_active: Telemetry | None = None


def active() -> bool:
    """Whether this process exports telemetry (setup installed it)."""
    return _active is not None


def setup(process: str) -> Telemetry | None:
    """Install OTLP tracing, metrics and logs for `process` (service.name `loket-<process>`)
    when configured; None when not. Call once, before engines and clients are made."""
    global _active
    if _active is not None or not enabled():
        return _active
    # Imported here: an unconfigured process does not load the exporters at all.
    from opentelemetry import metrics
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # Our name wins over a stack-wide OTEL_SERVICE_NAME: each process is a service of its own.
    resource = Resource.create({"service.name": f"loket-{process}", "service.namespace": "loket"})
    # Spans are made even when only metrics or logs go out: logs take their trace ids.
    tracer_provider = TracerProvider(resource=resource)
    if exported("traces"):
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(tracer_provider)
    if exported("metrics"):
        reader = PeriodicExportingMetricReader(OTLPMetricExporter())
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))
    if exported("logs"):
        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
        set_logger_provider(logger_provider)
        logging.getLogger().addHandler(LoggingHandler(logger_provider=logger_provider))
    # Wraps sqlalchemy.create_engine: engines made from now on (db.make_engine) are traced.
    # Its declared range stops below SQLAlchemy 2.1, which it traces all the same (it uses
    # only the engine events); tests/e2e/test_telemetry.py checks that the spans arrive.
    SQLAlchemyInstrumentor().instrument(enable_commenter=False, skip_dep_check=True)
    _active = Telemetry(process)
    log.info("telemetry on: %s over OTLP", ", ".join(s for s in SIGNALS if exported(s)))
    return _active


class TraceIds(logging.Filter):
    """Puts the current trace and span ids on each record (0 outside a span)."""

    def filter(self, record: logging.LogRecord) -> bool:
        span = trace.get_current_span().get_span_context()
        record.otelTraceID = format(span.trace_id, "032x") if span.is_valid else "0"
        record.otelSpanID = format(span.span_id, "016x") if span.is_valid else "0"
        return True


def configure_logging(process: str, level: int = logging.INFO) -> Telemetry | None:
    """The one logging set-up of every Loket process, with telemetry when configured."""
    on = enabled()
    root = logging.getLogger()
    root.setLevel(level)
    # Not basicConfig: it does nothing once setup() has given the root its OTLP handler.
    if not any(type(h) is logging.StreamHandler for h in root.handlers):
        console = logging.StreamHandler()
        console.setFormatter(
            logging.Formatter((TRACED_LOG_FORMAT if on else LOG_FORMAT).format(process=process))
        )
        if on:
            console.addFilter(TraceIds())
        root.addHandler(console)
    return setup(process)


def inject(headers: MutableSequence[tuple[str, bytes]]) -> None:
    """Add the current trace context to Kafka headers (nothing when no span is recording)."""
    if not trace.get_current_span().get_span_context().is_valid:
        return
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    headers.extend((k, v.encode()) for k, v in carrier.items())


def kafka_middlewares() -> tuple[BrokerMiddleware[Any, Any], ...]:
    """FastStream's Kafka telemetry middleware (a consume span per record, continuing the
    producer's trace; per batch, linking to its records) when telemetry is on."""
    if _active is None:
        return ()
    from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

    return (KafkaTelemetryMiddleware(),)


def consuming(
    topic: str, headers: Sequence[tuple[str, bytes]] | None, operation: str = "process"
) -> AbstractContextManager[Any]:
    """A consumer span for one record (`receive`: reading it; `process`: applying it), in its
    producer's trace, when telemetry is on. Records come in batches, whose FastStream span
    only links to them: this keeps each record's work, its SQL, its log lines and the events
    it stages in the trace that sent it."""
    if _active is None:
        return contextlib.nullcontext()
    carrier = {k: v.decode("utf-8", "replace") for k, v in headers or ()}
    return trace.get_tracer("loket.messaging").start_as_current_span(
        f"{topic} {operation}",
        context=propagate.extract(carrier),
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "messaging.operation": operation,
        },
    )


def instrument_app(app: object) -> None:
    """A server span per HTTP request of a FastAPI app (the root of an application's trace),
    when telemetry is on. Health checks are left out: they would be most of the traces."""
    if _active is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz")  # type: ignore[arg-type]


def temporal_interceptors() -> list[Interceptor]:
    """Temporal's tracing interceptor for clients and workers, when telemetry is on."""
    if _active is None:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]
