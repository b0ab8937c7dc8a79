"""One time-skipping test server per module, with the gateway's seals checked as in production."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from tests.temporal_test_server import time_skipping_server
from tests.unit.workflows.sealing import Sealing


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    sealing = Sealing()
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=time_skipping_server(),
        data_converter=pydantic_data_converter,
        interceptors=[sealing],
    ) as environment:
        sealing.env = environment
        yield environment
