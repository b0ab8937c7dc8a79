"""Kafka entrypoint: decode the command, decide, record, answer through the outbox."""

from __future__ import annotations

import json
from collections.abc import Sequence

from loket_contracts import commands as c
from loket_contracts import messages as m
from loket_contracts import topics
from loket_contracts.scheme import Scheme, load_scheme, packaged_versions
from loket_messaging import Emitter, Outgoing, ServiceRuntime
from loket_messaging.handlers import SchemeHandlers, answers
from sqlmodel import Session

from loket_eligibility.adapters.tables import EligibilityDecisionRow
from loket_eligibility.domain.rules import decide

SOURCE = "loket/eligibility"
emit = Emitter(topics.ELIGIBILITY_EVENTS, SOURCE)


class EligibilityHandlers(SchemeHandlers):
    """The handlers, bound to one scheme configuration (tests bind their own)."""

    @answers(c.ELIGIBILITY)
    def on_eligibility_requested(
        self, session: Session, cmd: m.EligibilityRequested
    ) -> Sequence[Outgoing]:
        scheme = self.scheme_of(cmd.scheme_version)
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


def register(runtime: ServiceRuntime, scheme: Scheme | None = None) -> EligibilityHandlers:
    # A bad scheme configuration, of any version an application may carry, stops the
    # service here, loudly.
    handlers = EligibilityHandlers(scheme or load_scheme())
    packaged_versions()
    runtime.answer(handlers.on_eligibility_requested)
    return handlers
