"""Loket's own metrics, on the OpenTelemetry API: no-ops until `telemetry.setup` installs a
meter provider, so recording them costs nothing when telemetry is off.

Gauges read from a database (`observe`) run in the metric reader's thread, once per export
interval, each in a short read-only unit of work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation
from sqlalchemy import Engine
from sqlmodel import Session

from loket_messaging import telemetry
from loket_messaging.db import unit_of_work

log = logging.getLogger("loket.metrics")
meter = metrics.get_meter("loket")

DLQ_RECORDS = meter.create_counter(
    "loket.dlq.records",
    unit="{record}",
    description="Records parked on a dead-letter topic, by source topic and consumer group",
)
CONSUMER_LAG = meter.create_gauge(
    "loket.consumer.lag",
    unit="{record}",
    description="Records behind the partition's end when a consumer took its last record",
)
STAGE_DURATION = meter.create_histogram(
    "loket.application.stage.duration",
    unit="s",
    description="How long applications stayed in a stage before leaving it",
)

Reading = Iterable[tuple[float, dict[str, str]]]


def observe(
    engine: Engine, name: str, unit: str, description: str, read: Callable[[Session], Reading]
) -> None:
    """A gauge whose values `read` takes from the database at each export."""

    def callback(_options: CallbackOptions) -> Iterator[Observation]:
        try:
            with unit_of_work(engine) as session:
                values = list(read(session))
        except Exception as exc:  # a database that is away: no reading this time
            log.warning("metric %s not read: %s", name, exc)
            return
        for value, attributes in values:
            yield Observation(value, attributes)

    meter.create_observable_gauge(name, [callback], unit=unit, description=description)


def consumer_lag(consumer: Any, topic: str, partition: int, offset: int, group: str) -> None:
    """Record how far `group` is behind on `topic`/`partition` after taking `offset`."""
    if not telemetry.active():  # no meter provider: not even the lookup on the hot path
        return
    highwater_of = getattr(consumer, "highwater", None)  # the in-memory broker's has none
    highwater = highwater_of(_partition(topic, partition)) if highwater_of else None
    if highwater is None:
        return
    CONSUMER_LAG.set(
        max(0, highwater - offset - 1),
        {"messaging.destination.name": topic, "partition": str(partition), "group": group},
    )


def _partition(topic: str, partition: int) -> Any:
    from aiokafka import TopicPartition

    return TopicPartition(topic, partition)
