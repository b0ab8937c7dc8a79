"""Where a benchmark's report goes: its JSON file in bench/results/, and the terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def publish(out: Path, report: dict[str, Any]) -> None:
    text = json.dumps(report, indent=2)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(text)
