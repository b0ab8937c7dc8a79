"""One time-skipping test server per module, with the gateway's seals checked as in production."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from tests.temporal_test_server import start_time_skipping
from tests.unit.workflows.sealing import Sealing


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    sealing = Sealing()
    async with await start_time_skipping(
        data_converter=pydantic_data_converter,
        interceptors=[sealing],
    ) as environment:
        sealing.env = environment
        yield environment
