"""Kafka entrypoint: decode the command, decide, record, answer through the outbox."""

from __future__ import annotations

import json
from collections.abc import Sequence

from loket_contracts import messages as m
from loket_contracts import topics
from loket_contracts.envelope import CloudEvent
from loket_contracts.scheme import load_scheme, packaged_versions
from loket_messaging import Emitter, Outgoing, ServiceRuntime
from sqlmodel import Session

from loket_eligibility.adapters.tables import EligibilityDecisionRow
from loket_eligibility.domain.rules import decide

SOURCE = "loket/eligibility"
emit = Emitter(topics.ELIGIBILITY_EVENTS, SOURCE)


def on_eligibility_requested(session: Session, event: CloudEvent) -> Sequence[Outgoing]:
    cmd = event.decode(m.EligibilityRequested)
    # The version the application was submitted under (none given: the first one).
    scheme = load_scheme(cmd.scheme_version)
    decision = decide(cmd.applicant, cmd.priority_area, cmd.as_of, scheme)
    session.add(
        EligibilityDecisionRow(
            application_id=cmd.application_id,
            undertaking_id=cmd.applicant.undertaking_id,
            outcome=decision.outcome,
            sme_category=decision.sme_category,
            scheme_version=scheme.version,
            rules_json=json.dumps([r.model_dump() for r in decision.rules]),
        )
    )
    body = m.EligibilityDecided(
        application_id=cmd.application_id,
        outcome=decision.outcome,
        sme_category=decision.sme_category,
        scheme_version=scheme.version,
        rules=decision.rules,
        excluded_instruments=decision.excluded_instruments,
        single_undertaking=decision.single_undertaking,
    )
    return [emit(m.ELIGIBILITY_DECIDED, body, cmd.application_id)]


def register(runtime: ServiceRuntime) -> None:
    # A bad scheme configuration, of any version an application may carry, stops the
    # service here, loudly.
    load_scheme()
    packaged_versions()
    runtime.handle(topics.ELIGIBILITY_COMMANDS, m.ELIGIBILITY_REQUESTED, on_eligibility_requested)
