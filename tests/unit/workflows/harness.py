"""Running one application on the time-skipping server, and waiting for what it shows."""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from loket_contracts import messages as m
from loket_contracts.application import (
    SIGNAL_SERVICE_EVENT,
    TASK_QUEUE,
    ApplicationInput,
    ApplicationStatus,
    ServiceEvent,
    Stage,
    TermsDecision,
)
from loket_workflows.application.v1 import ApplicationWorkflow
from loket_workflows.application.workflow import ApplicationV3
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.unit.workflows.fake_services import FakeServices, Under
from tests.unit.workflows.replies import T0
from tests.unit.workflows.sealing import OWNED_BY

HISTORIES = Path(__file__).parent / "histories"
RESULT_WITHIN_S = 300


async def deliver(handle, units: int, sequence: int, total: int) -> None:
    """What the bridge forwards when the allocation service recorded a facility's delivery."""
    await handle.signal(
        SIGNAL_SERVICE_EVENT,
        ServiceEvent(
            event_id=f"delivery-{sequence}",
            type=m.DELIVERY_RECORDED,
            data=m.DeliveryRecorded(
                application_id=handle.id,
                delivery_id=f"f/{sequence}",
                facility_id="f",
                slot_id="s",
                units=units,
                market_value_eur=Decimal(3000) * units,
                delivered_at=T0 + timedelta(days=40),
                units_delivered_total=total,
                units_booked_total=2,
            ).model_dump_json(),
        ),
    )


def application(window_s: int = 14 * 24 * 3600) -> ApplicationInput:
    return ApplicationInput(
        application_id=f"app-{uuid.uuid4().hex[:8]}",
        owner=OWNED_BY,
        applicant=m.Applicant(
            undertaking_id="AT-1",
            name="Qubitron",
            country="AT",
            workplace_country="AT",
            registered_on=T0.date().replace(year=2024),
            staff_awu=8,
            turnover_eur=Decimal(1),
            balance_sheet_eur=Decimal(1),
            nace_code="C26",
        ),
        priority_area="quantum",
        call_id="LOKET-2026-01",
        needs=[
            m.Need(
                service_type="beamtime.x",
                units=2,
                earliest_start=T0,
                latest_end=T0 + timedelta(days=30),
            )
        ],
        acceptance_window_seconds=window_s,
        submitted_at=T0,
    )


async def run_with(
    env: WorkflowEnvironment,
    services: FakeServices,
    inp: ApplicationInput,
    act: Callable[..., object] | None = None,
) -> ApplicationStatus:
    async with Worker(
        env.client,
        task_queue=TASK_QUEUE,
        workflows=[Under.workflow],
        activities=[services.send_command, services.send_commands],
    ):
        handle = await env.client.start_workflow(
            Under.workflow.run, inp, id=inp.application_id, task_queue=TASK_QUEUE
        )
        if act is not None:
            await act(handle)  # type: ignore[misc]
        # Bounded: a workflow task that never completes fails the test instead of hanging it.
        result = await asyncio.wait_for(handle.result(), RESULT_WITHIN_S)
        await record_history(handle)
        return result


async def record_history(handle) -> None:
    """With LOKET_RECORD_HISTORIES=<version>, keep this run's history for the replay tests."""
    version = os.environ.get("LOKET_RECORD_HISTORIES")
    if not version or Under.workflow is not ApplicationV3 or not Under.answers_in_send:
        return  # the retiring types are frozen; the signalled path makes no other commands
    test = os.environ["PYTEST_CURRENT_TEST"].split("::")[-1].split(" ")[0]
    test = re.sub(r"-?ApplicationV3-?", "", test).replace("[]", "")
    HISTORIES.mkdir(exist_ok=True)
    history = await handle.fetch_history()
    compact = json.dumps(json.loads(history.to_json()), separators=(",", ":"))
    (HISTORIES / f"{version}-{test}.json").write_text(compact)


async def wait_for_terms(handle) -> None:
    await wait_for_stage(handle, Stage.AWAITING_ACCEPTANCE)


async def accept_current_terms(handle) -> None:
    await wait_for_terms(handle)
    sha = (await handle.query(ApplicationWorkflow.status)).terms_sha256
    await handle.execute_update(ApplicationWorkflow.accept_terms, TermsDecision(terms_sha256=sha))


async def wait_for_stage(handle, stage: Stage) -> None:
    for _ in range(300):
        if (await handle.query(ApplicationWorkflow.status)).stage == stage:
            return
        await asyncio.sleep(0.02)
    status = await handle.query(ApplicationWorkflow.status)
    raise AssertionError(f"never reached {stage}: {status.stage}, {status.reasons}")
