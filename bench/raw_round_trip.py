"""`python -m bench.raw_round_trip ASK ANSWER`: raw Kafka round trips, in a process of its own.

The question a Q4 answer needs (README, per-application bench): what does a bare Kafka round
trip cost, the kind each of Loket's commands makes? Here, with plain aiokafka and nothing else:
a producer sends a question to ASK; an echo consumer (its own group, parked in a fetch like the
services' consumers, the same consumer options) sends it back to ANSWER; the asker's consumer
(another group) takes it. Both sides run in this one process, so its CPU and the broker's are
the round trips' whole cost. Producer as the services' (`make_producer`: linger 0, acks=all);
offsets committed by aiokafka's own timer, the cheapest a raw consumer gets (the services commit
after their work, at most every 0.2 s): the reference is not made dearer than it is.

Reads `together N` or `chained N` per line on stdin, makes N round trips at once or one after
another, and writes one JSON line with each one's seconds. Kafka access comes from the
environment, as a service's does.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from loket_messaging import event_loop
from loket_messaging.kafka import KafkaAccess, consumer_options, make_producer

# getmany returns as soon as records come; this only bounds an empty wait (0, aiokafka's
# default, would spin).
WAIT_MS = 1000


class RoundTrips:
    def __init__(self, bootstrap: str, ask: str, answer: str) -> None:
        self.ask, self.answer = ask, answer
        self.producer: AIOKafkaProducer = make_producer(bootstrap, "bench-raw-round-trip")
        kwargs = {**KafkaAccess.from_env(bootstrap).client_kwargs(), **consumer_options()}
        self.echo = AIOKafkaConsumer(ask, group_id=f"bench-echo-{uuid.uuid4().hex[:8]}", **kwargs)
        self.back = AIOKafkaConsumer(answer, group_id=f"bench-ask-{uuid.uuid4().hex[:8]}", **kwargs)
        self.waiting: dict[bytes, asyncio.Future[None]] = {}

    async def __aenter__(self) -> RoundTrips:
        await self.producer.start()
        for consumer in (self.echo, self.back):
            await consumer.start()
            while not consumer.assignment():  # noqa: ASYNC110 (aiokafka has no event for it)
                await asyncio.sleep(0.05)
        self.tasks = [asyncio.create_task(self._echo()), asyncio.create_task(self._take())]
        return self

    async def __aexit__(self, *_: object) -> None:
        for task in self.tasks:
            task.cancel()
        for consumer in (self.echo, self.back):
            await consumer.stop()
        await self.producer.stop()

    async def _echo(self) -> None:
        while True:
            for records in (await self.echo.getmany(timeout_ms=WAIT_MS)).values():
                sent = [await self.producer.send(self.answer, r.value, r.key) for r in records]
                await asyncio.gather(*sent)

    async def _take(self) -> None:
        while True:
            for records in (await self.back.getmany(timeout_ms=WAIT_MS)).values():
                for r in records:
                    found = self.waiting.pop(r.key or b"", None)
                    if found is not None and not found.done():
                        found.set_result(None)

    async def many(self, n: int) -> list[float]:
        return list(await asyncio.gather(*(self.one() for _ in range(n))))

    async def one(self) -> float:
        key = uuid.uuid4().hex.encode()
        self.waiting[key] = answered = asyncio.get_running_loop().create_future()
        t = time.perf_counter()
        await self.producer.send_and_wait(self.ask, b'{"question": true}', key)
        await answered
        return time.perf_counter() - t


async def main(ask: str, answer: str) -> None:
    bootstrap = os.environ["LOKET_KAFKA_BOOTSTRAP"]
    async with RoundTrips(bootstrap, ask, answer) as trips:
        print(json.dumps({"ready": True}), flush=True)
        while line := await asyncio.to_thread(sys.stdin.readline):
            how, n = line.split()
            if how == "together":
                took = await trips.many(int(n))
            else:  # one after another
                took = [await trips.one() for _ in range(int(n))]
            print(json.dumps({"took": took}), flush=True)


if __name__ == "__main__":
    event_loop.run(main(sys.argv[1], sys.argv[2]))
