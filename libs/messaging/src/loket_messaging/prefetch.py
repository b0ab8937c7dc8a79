"""No prefetch that parks while a partition's records are still being handled.

aiokafka keeps one fetch in flight per broker. While a partition's records wait to be
handled, it fetches the node's other partitions after `prefetch_backoff` (0.1 s). With long
fetch waits (2 s on Apache Kafka, so that idle consumers rest) that fetch parks; once the
handler is done, the partition's next records are already on the broker, but they cannot be
fetched until the parked fetch comes back: up to the whole wait. Under a burst it happened all
the time (bench/per_application.py: burst p95 10.3 s, twice; 7.1 and 6.5 s with the prefetch
held back). So a prefetch is held back for as long as a fetch may park: the other partitions
are fetched with the next fetch, right after the records in hand are handled (aiokafka wakes
its fetcher when they are). aiokafka's consumer does not take the setting, hence its fetcher's.
"""

from __future__ import annotations

from typing import Any

from aiokafka.consumer import consumer as aiokafka_consumer
from aiokafka.consumer.fetcher import Fetcher

DEFAULT_PREFETCH_BACKOFF_S = 0.1  # aiokafka's


class HeldPrefetchFetcher(Fetcher):
    backoff_s = DEFAULT_PREFETCH_BACKOFF_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefetch_backoff", self.backoff_s)
        super().__init__(*args, **kwargs)


def hold_prefetch(fetch_max_wait_ms: int) -> None:
    """Every consumer of this process started from now on holds a prefetch back for as long
    as its fetches may park (short waits keep aiokafka's 0.1 s)."""
    HeldPrefetchFetcher.backoff_s = max(DEFAULT_PREFETCH_BACKOFF_S, fetch_max_wait_ms / 1000)
    aiokafka_consumer.Fetcher = HeldPrefetchFetcher
