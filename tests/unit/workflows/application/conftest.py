"""The application workflow on Temporal's time-skipping test server, with the Kafka activity
replaced by a fake that answers like the services would (fast, in-memory; the e2e suite runs the
real services).

Every test runs on each registered type: `ApplicationV3` (new applications) and the retiring
`ApplicationV2` and `ApplicationWorkflow` (runs started before it), so they behave the same until
the retiring ones are deleted. Queries and updates are addressed by name; the names are the same
on all three."""

from __future__ import annotations

from typing import Any

import pytest
from loket_workflows.application.v1 import ApplicationWorkflow
from loket_workflows.application.v2 import ApplicationV2
from loket_workflows.application.workflow import ApplicationV3

from tests.unit.workflows.fake_services import Under


@pytest.fixture(
    autouse=True,
    params=[
        (ApplicationV3, True),
        (ApplicationV3, False),
        (ApplicationV2, True),
        (ApplicationWorkflow, False),
    ],
    ids=["ApplicationV3", "ApplicationV3-signalled", "ApplicationV2", "ApplicationWorkflow"],
)
def workflow_type(request: pytest.FixtureRequest) -> Any:
    Under.workflow, Under.answers_in_send = request.param
    return Under.workflow
