"""`python -m loket_workflows.application.worker`: the application workflow worker, and the
bridge that brings the services' events to its workflows (bridge.py)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from loket_contracts import seals
from loket_contracts.application import TASK_QUEUE
from loket_messaging import event_loop, telemetry
from loket_messaging.kafka import make_producer
from loket_messaging.settings import Settings
from temporalio.worker import Worker

from loket_workflows.application.activities import ANSWER_WAIT_S, CommandActivities
from loket_workflows.application.answers import AnswerDesk
from loket_workflows.application.v1 import ApplicationWorkflow
from loket_workflows.application.v2 import ApplicationV2
from loket_workflows.application.workflow import ApplicationV3
from loket_workflows.bridge import Bridge
from loket_workflows.round.workflow import AllocationRound
from loket_workflows.sandbox import workflow_runner
from loket_workflows.temporal import connect

log = logging.getLogger("loket.worker")
# The retiring types run only until their last runs, started before ApplicationV3, end.
WORKFLOWS = [ApplicationV3, ApplicationV2, ApplicationWorkflow, AllocationRound]


async def run(settings: Settings, stop: asyncio.Event) -> None:
    # Human decisions are checked against these keys in the update validators.
    seals.configure_from_env()
    client = await connect(settings.temporal_address, settings.temporal_namespace)
    desk = AnswerDesk()
    bridge = Bridge(settings, client, desk)
    producer = make_producer(settings.kafka_bootstrap, "loket-workflows")
    await producer.start()
    try:
        await bridge.app.start()
        wait_s = float(os.environ.get("LOKET_ANSWER_WAIT_S", ANSWER_WAIT_S))
        activities = CommandActivities(producer, desk, min(max(wait_s, 0.0), 6.0))
        async with Worker(
            client,
            task_queue=TASK_QUEUE,
            workflows=WORKFLOWS,
            workflow_runner=workflow_runner(),
            activities=[activities.send_command, activities.send_commands],
        ):
            settings.mark_ready()
            log.info("worker polling task queue %s", TASK_QUEUE)
            await stop.wait()
    finally:
        try:
            await bridge.app.stop()
        finally:
            await producer.stop()


def main() -> None:
    telemetry.configure_logging("workflows")

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run(Settings.from_env("workflows"), stop)

    event_loop.run(_main())


if __name__ == "__main__":
    main()
