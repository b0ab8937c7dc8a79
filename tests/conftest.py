"""Shared test set-up. Tests are split: tests/unit (no I/O), tests/integration, tests/e2e."""

from __future__ import annotations

import os
import sys

import pytest

_exit_status = 0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    # temporalio's runtime can abort the interpreter during teardown (PyGILState_Release),
    # after every result is reported. Leave with pytest's own verdict before that can happen.
    if os.environ.get("LOKET_HARD_EXIT", "1") == "1":
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status)
