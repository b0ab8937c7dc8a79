"""schemathesis against the running gateway, from its committed OpenAPI document: generated
requests (valid and hostile), sent by a programme manager, must never get a server error, an
undocumented status code, a body that breaks its schema or a wrong content type. Bounded: a
few dozen cases per route."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from loket_infra.stack import EmbeddedStack
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

OPENAPI = Path(__file__).parents[2] / "docs" / "openapi.json"
schema = schemathesis.openapi.from_path(str(OPENAPI))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def gateway(stack: EmbeddedStack) -> EmbeddedStack:
    return stack


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same cases every run: a failure is reproducible
)
def test_the_gateway_answers_every_generated_request_within_its_contract(
    case: schemathesis.Case, gateway: EmbeddedStack
) -> None:
    # As a programme manager: past authentication, so the generated input reaches the routes
    # (routes for other roles answer 403, which they document).
    token = gateway.identity.role("manager")
    case.call_and_validate(
        base_url=gateway.gateway_url,
        checks=CHECKS,
        timeout=60,
        headers={"Authorization": f"Bearer {token}"},
    )
