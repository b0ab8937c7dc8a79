"""DurableOffsets with a stand-in consumer: an offset is committed only once its record's work
is done; a record whose work raised is fetched again and nothing is committed past it; a
commit the broker refused is kept for the next one; a partition taken away is not committed.
(The real broker's side is in tests/integration/messaging/test_runtime.py.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError
from loket_messaging.offsets import DurableOffsets

P0, P1 = TopicPartition("t", 0), TopicPartition("t", 1)


class StandIn(AIOKafkaConsumer):
    def __init__(self) -> None:  # no client: only what DurableOffsets uses
        self.committed: list[dict[TopicPartition, int]] = []
        self.sought: list[tuple[TopicPartition, int]] = []
        self.refuse = 0
        self.ours = {P0, P1}

    def assignment(self) -> set[TopicPartition]:
        return set(self.ours)

    async def commit(self, offsets: Any = None) -> None:
        if self.refuse:
            self.refuse -= 1
            raise KafkaConnectionError("coordinator away")
        self.committed.append(dict(offsets))

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.sought.append((partition, offset))


@dataclass
class Record:
    topic: str
    partition: int
    offset: int


@dataclass
class Message:
    raw_message: Record
    consumer: StandIn


async def done(offsets: DurableOffsets, consumer: StandIn, tp: TopicPartition, n: int) -> None:
    async def work() -> None:
        return None

    await offsets.around(Message(Record(tp.topic, tp.partition, n), consumer), work)


async def test_offsets_of_finished_records_go_out_together() -> None:
    consumer, offsets = StandIn(), DurableOffsets()
    for n in range(5):
        await done(offsets, consumer, P0, n)
    await done(offsets, consumer, P1, 7)
    assert consumer.committed == []  # nothing before the committer runs
    await offsets.flush()
    assert consumer.committed == [{P0: 5, P1: 8}] and offsets.commits == 1


async def test_a_record_whose_work_failed_is_fetched_again_and_not_committed() -> None:
    consumer, offsets = StandIn(), DurableOffsets()
    await done(offsets, consumer, P0, 3)

    async def failing() -> None:
        raise RuntimeError("the handler's process is stopping")

    with pytest.raises(RuntimeError):
        await offsets.around(Message(Record("t", 0, 4), consumer), failing)
    assert consumer.sought == [(P0, 4)]
    await offsets.flush()
    assert consumer.committed == [{P0: 4}]  # up to the failed record, not past it


async def test_a_refused_commit_is_kept_and_a_partition_taken_away_is_dropped() -> None:
    consumer, offsets = StandIn(), DurableOffsets()
    await done(offsets, consumer, P0, 1)
    await done(offsets, consumer, P1, 1)
    consumer.refuse = 1
    await offsets.flush()
    assert consumer.committed == []
    await done(offsets, consumer, P0, 2)  # newer: wins over the kept one
    consumer.ours = {P0}  # P1 went to another member during a rebalance
    await offsets.flush()
    assert consumer.committed == [{P0: 3}]


async def test_revocation_commits_what_was_finished_on_the_revoked_partitions() -> None:
    consumer, offsets = StandIn(), DurableOffsets()
    await done(offsets, consumer, P0, 1)
    await done(offsets, consumer, P1, 9)
    await offsets.on_partitions_revoked([P1])
    assert consumer.committed == [{P1: 10}]
    await offsets.flush()
    assert consumer.committed[-1] == {P0: 2}


async def test_records_fetched_together_are_committed_together_or_fetched_again() -> None:
    consumer, offsets = StandIn(), DurableOffsets()
    batch = [Record("t", 0, 5), Record("t", 1, 2), Record("t", 0, 6), Record("t", 1, 3)]

    async def failing() -> None:
        raise RuntimeError("stopping halfway")

    with pytest.raises(RuntimeError):
        await offsets.around_batch(batch, consumer, failing)
    assert sorted(consumer.sought) == [(P0, 5), (P1, 2)]  # each partition from its first
    await offsets.flush()
    assert consumer.committed == []

    async def work() -> None:
        return None

    await offsets.around_batch(batch, consumer, work)
    await offsets.flush()
    assert consumer.committed == [{P0: 7, P1: 4}]
