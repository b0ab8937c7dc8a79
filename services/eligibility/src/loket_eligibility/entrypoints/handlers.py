"""Kafka entrypoint: decode the command, decide, record, answer through the outbox."""

from __future__ import annotations

import json
from collections.abc import Sequence

from loket_contracts import messages as m
from loket_contracts import topics
from loket_contracts.envelope import CloudEvent
from loket_messaging import Emitter, Outgoing, ServiceRuntime
from sqlmodel import Session

from loket_eligibility.adapters.tables import EligibilityDecisionRow
from loket_eligibility.domain.rules import decide
from loket_eligibility.domain.scheme import PILOT_2026

SOURCE = "loket/eligibility"
emit = Emitter(topics.ELIGIBILITY_EVENTS, SOURCE)


def on_eligibility_requested(session: Session, event: CloudEvent) -> Sequence[Outgoing]:
    cmd = event.decode(m.EligibilityRequested)
    decision = decide(cmd.applicant, cmd.priority_area, cmd.as_of, PILOT_2026)
    session.add(
        EligibilityDecisionRow(
            application_id=cmd.application_id,
            undertaking_id=cmd.applicant.undertaking_id,
            outcome=decision.outcome,
            sme_category=decision.sme_category,
            scheme_version=PILOT_2026.version,
            rules_json=json.dumps([r.model_dump() for r in decision.rules]),
        )
    )
    body = m.EligibilityDecided(
        application_id=cmd.application_id,
        outcome=decision.outcome,
        sme_category=decision.sme_category,
        scheme_version=PILOT_2026.version,
        rules=decision.rules,
    )
    return [emit(m.ELIGIBILITY_DECIDED, body, cmd.application_id)]


def register(runtime: ServiceRuntime) -> None:
    runtime.handle(topics.ELIGIBILITY_COMMANDS, m.ELIGIBILITY_REQUESTED, on_eligibility_requested)
