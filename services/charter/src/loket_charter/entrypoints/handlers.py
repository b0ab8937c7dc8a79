"""Kafka entrypoint of the charter service."""

from __future__ import annotations

from collections.abc import Sequence

from loket_contracts import messages as m
from loket_contracts import topics
from loket_contracts.envelope import CloudEvent
from loket_messaging import Emitter, Outgoing, ServiceRuntime
from sqlmodel import Session

from loket_charter.adapters.tables import TermsDocumentRow
from loket_charter.domain.terms import render

SOURCE = "loket/charter"
emit = Emitter(topics.CHARTER_EVENTS, SOURCE)


def on_terms_requested(session: Session, event: CloudEvent) -> Sequence[Outgoing]:
    cmd = event.decode(m.TermsRequested)
    terms = render(cmd)
    if session.get(TermsDocumentRow, terms.sha256) is None:
        session.add(
            TermsDocumentRow(
                sha256=terms.sha256,
                application_id=cmd.application_id,
                template_id=terms.template_id,
                template_version=terms.template_version,
                language=cmd.language,
                text=terms.text,
            )
        )
    body = m.TermsRendered(
        application_id=cmd.application_id,
        template_id=terms.template_id,
        template_version=terms.template_version,
        text=terms.text,
        sha256=terms.sha256,
    )
    return [emit(m.TERMS_RENDERED, body, cmd.application_id)]


def register(runtime: ServiceRuntime) -> None:
    runtime.handle(topics.CHARTER_COMMANDS, m.TERMS_REQUESTED, on_terms_requested)
