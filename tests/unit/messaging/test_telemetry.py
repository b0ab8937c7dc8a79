"""Telemetry is configured by the standard OTEL_* variables only, and off without them."""

from __future__ import annotations

import logging

import pytest
from loket_messaging import telemetry
from opentelemetry.sdk.trace import TracerProvider

ALL = [
    "OTEL_SDK_DISABLED",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    *(f"OTEL_EXPORTER_OTLP_{s.upper()}_ENDPOINT" for s in telemetry.SIGNALS),
    *(f"OTEL_{s.upper()}_EXPORTER" for s in telemetry.SIGNALS),
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ALL:
        monkeypatch.delenv(variable, raising=False)


def test_off_unless_an_endpoint_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not telemetry.enabled()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "   ")
    assert not telemetry.enabled()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert telemetry.enabled()
    assert all(telemetry.exported(s) for s in telemetry.SIGNALS)


def test_each_signal_follows_its_own_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:24318/v1/traces")
    assert telemetry.exported("traces")
    assert not telemetry.exported("metrics") and not telemetry.exported("logs")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
    assert telemetry.exported("metrics") and not telemetry.exported("logs")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not telemetry.enabled()


def test_trace_context_goes_into_kafka_headers_only_inside_a_span() -> None:
    headers: list[tuple[str, bytes]] = [("ce_id", b"e-1")]
    telemetry.inject(headers)
    assert headers == [("ce_id", b"e-1")]
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        telemetry.inject(headers)
        context = span.get_span_context()
    traceparent = dict(headers)["traceparent"].decode()
    assert traceparent.startswith(f"00-{context.trace_id:032x}-{context.span_id:016x}-")


def test_log_records_carry_the_trace_they_were_written_in() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "hello", None, None)
    telemetry.TraceIds().filter(record)
    assert (record.__dict__["otelTraceID"], record.__dict__["otelSpanID"]) == ("0", "0")
    with TracerProvider().get_tracer("test").start_as_current_span("work") as span:
        telemetry.TraceIds().filter(record)
    assert record.__dict__["otelTraceID"] == f"{span.get_span_context().trace_id:032x}"
