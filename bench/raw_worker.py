"""`python -m bench.raw_worker ADDRESS NAMESPACE QUEUE`: the raw baseline's worker, in its own
process like the application worker: one workflow with one no-op activity, SDK defaults, on the
event loop the application worker runs on (LOKET_EVENT_LOOP)."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():  # the sandbox refuses its imports
    from loket_messaging import event_loop


@activity.defn
async def noop(n: int) -> int:
    return n


@workflow.defn
class Trivial:
    @workflow.run
    async def run(self, n: int) -> int:
        return int(
            await workflow.execute_activity(noop, n, start_to_close_timeout=timedelta(seconds=10))
        )


async def main(address: str, namespace: str, queue: str) -> None:
    client = await Client.connect(address, namespace=namespace)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with Worker(client, task_queue=queue, workflows=[Trivial], activities=[noop]):
        await stop.wait()


if __name__ == "__main__":
    event_loop.run(main(*sys.argv[1:4]))
