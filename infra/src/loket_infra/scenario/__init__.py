"""The demo scenario: facilities across Europe (`facilities`), a realistic mix of applicants
(`cases`) and a batch call (`calls`)."""

from loket_infra.scenario.calls import BATCH_CALL, BATCH_CASES, batch_call_body, request_body
from loket_infra.scenario.cases import CASES, Case
from loket_infra.scenario.facilities import facility_events

__all__ = [
    "BATCH_CALL",
    "BATCH_CASES",
    "CASES",
    "Case",
    "batch_call_body",
    "facility_events",
    "request_body",
]
