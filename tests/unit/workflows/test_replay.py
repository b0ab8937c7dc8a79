"""Recorded histories of earlier workflow versions replay on today's code.

A history is recorded by running the workflow tests with `LOKET_RECORD_HISTORIES=<version>`
(see `record_history`). If a change to the workflow is not behind `workflow.patched`, the
replay of a history recorded before it raises a non-determinism error here, long before a
running application meets it in production.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from loket_contracts.application import V1_WORKFLOW_NAME, V2_WORKFLOW_NAME, WORKFLOW_NAME
from loket_workflows.application.v1 import ApplicationWorkflow
from loket_workflows.application.v2 import ApplicationV2
from loket_workflows.application.workflow import ApplicationV3
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_every_registered_type_has_histories() -> None:
    """Each registered type's histories replay below, the current type's too: a change to
    it that is not behind a patch fails there before a running application meets it."""
    started = "workflowExecutionStartedEventAttributes"
    types = {
        json.loads(p.read_text())["events"][0][started]["workflowType"]["name"] for p in HISTORIES
    }
    assert types == {WORKFLOW_NAME, V2_WORKFLOW_NAME, V1_WORKFLOW_NAME}


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays_on_current_code(path: Path) -> None:
    history = WorkflowHistory.from_json(
        path.stem, json.loads(await asyncio.to_thread(path.read_text))
    )
    replayer = Replayer(
        workflows=[ApplicationV3, ApplicationV2, ApplicationWorkflow],
        data_converter=pydantic_data_converter,
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
