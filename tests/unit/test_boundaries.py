"""From imports alone: no service reaches into another service (SPEC: services talk only over
Kafka). Shared code is limited to loket_contracts and loket_messaging."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["eligibility", "allocation", "vouchers", "charter", "gateway"]
PRIVATE = {f"loket_{s}" for s in SERVICES} | {"loket_workflows", "loket_infra"}


def imported_packages(src: Path) -> set[str]:
    found: set[str] = set()
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_service_imports_no_other_service(service: str) -> None:
    own = f"loket_{service}"
    imports = imported_packages(ROOT / "services" / service / "src")
    assert own in imports  # the scan sees the service's own modules
    assert imports & PRIVATE == {own}


@pytest.mark.parametrize("shared", ["contracts", "libs/messaging"])
def test_shared_packages_import_no_service(shared: str) -> None:
    assert not imported_packages(ROOT / shared / "src") & PRIVATE


def test_workflows_import_no_service() -> None:
    assert imported_packages(ROOT / "workflows" / "src") & PRIVATE == {"loket_workflows"}
