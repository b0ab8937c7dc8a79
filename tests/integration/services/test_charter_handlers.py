"""Charter handlers on SQLite and PostgreSQL: addenda apply to agreements drafted after them,
acceptances are kept once and only for agreements that exist, documents are written."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pytest
from loket_charter.adapters.tables import AcceptanceRow, TermsDocumentRow
from loket_charter.domain.sample import sample_request
from loket_charter.entrypoints.handlers import CharterHandlers
from loket_contracts import capacity as cap
from loket_contracts import messages as m
from loket_contracts.application import AcceptanceRecord
from loket_contracts.envelope import CloudEvent, make_event
from loket_messaging.db import take_after_commit, unit_of_work
from loket_messaging.failures import Rejected
from loket_messaging.handlers import invoke
from pydantic import BaseModel
from sqlalchemy import Engine

Format = Literal["md", "html", "pdf"]


def run(engine: Engine, handler, event: CloudEvent) -> list:
    """As the runtime does: the handler in a transaction, its after-commit work after it."""
    with unit_of_work(engine) as session:
        out = list(invoke(handler, session, event))
        later = take_after_commit(session)
    for job in later:
        job()
    return out


def command(type_: str, body: BaseModel) -> CloudEvent:
    return make_event(source="loket/workflows", type_=type_, body=body)


def addendum(seq: int, safety: str) -> CloudEvent:
    return make_event(
        source="facility/fr-grenoble-sync",
        type_=cap.TERMS,
        body=cap.FacilityTerms(
            facility_id="fr-grenoble-sync",
            sequence=seq,
            safety_rules=safety,
            sample_handling="returned within 30 days",
            local_law_notes="French law on site",
        ),
    )


def draft(engine: Engine, h: CharterHandlers, app_id: str) -> m.TermsRendered:
    req = sample_request().model_copy(update={"application_id": app_id})
    [out] = run(engine, h.on_terms_requested, command(m.TERMS_REQUESTED, req))
    return out.event.decode(m.TermsRendered)


def test_an_addendum_update_changes_only_agreements_drafted_after_it(
    engine: Engine, tmp_path: Path
) -> None:
    h = CharterHandlers(tmp_path)
    run(engine, h.on_facility_terms, addendum(1, "badge v1"))
    before = draft(engine, h, "app-before")
    run(engine, h.on_facility_terms, addendum(3, "badge v2"))
    run(engine, h.on_facility_terms, addendum(2, "badge stale"))  # late and older: ignored
    after = draft(engine, h, "app-after")
    assert "badge v1" in before.text and "badge v2" in after.text
    with unit_of_work(engine) as session:
        kept = session.get(TermsDocumentRow, before.sha256)
        assert kept is not None and "badge v1" in kept.text  # the earlier agreement stands
    assert fetch(engine, h, after, "pdf").startswith(b"%PDF-")
    assert Path(after.documents["html"]).read_text().count("<h3>") >= 3  # two sites + annex


def fetch(engine: Engine, h: CharterHandlers, rendered: m.TermsRendered, fmt: Format) -> bytes:
    """A document query, as the gateway sends it for the owner."""
    query = m.DocumentQuery(
        application_id=rendered.application_id, sha256=rendered.sha256, format=fmt
    )
    [out] = run(engine, h.on_document_query, command(m.DOCUMENT_QUERY, query))
    answer = out.event.decode(m.DocumentReply)
    assert answer.found and answer.content_b64 is not None
    return base64.b64decode(answer.content_b64)


def test_documents_are_rendered_after_the_commit_not_in_it(engine: Engine, tmp_path: Path) -> None:
    """No transaction waits on a rendering: the text and its hash are committed, Markdown and
    HTML follow, and the PDF is made when it is first asked for (then kept: same bytes)."""
    h = CharterHandlers(tmp_path)
    req = sample_request().model_copy(update={"application_id": "app-later"})
    with unit_of_work(engine) as session:
        [out] = h.on_terms_requested(session, req)
        rendered = out.event.decode(m.TermsRendered)
        assert not Path(rendered.documents["pdf"]).exists()
        later = take_after_commit(session)
    assert len(later) == 1
    later[0]()
    assert Path(rendered.documents["md"]).read_text() == rendered.text
    assert "<h3>" in Path(rendered.documents["html"]).read_text()
    assert not Path(rendered.documents["pdf"]).exists()  # nobody has asked for it yet
    first = fetch(engine, h, rendered, "pdf")
    assert first.startswith(b"%PDF-")
    assert Path(rendered.documents["pdf"]).read_bytes() == first
    assert fetch(engine, h, rendered, "pdf") == first
    assert not list(Path(rendered.documents["pdf"]).parent.glob("*.tmp"))


def test_acceptance_is_recorded_once_and_only_for_a_drafted_agreement(
    engine: Engine, tmp_path: Path
) -> None:
    h = CharterHandlers(tmp_path)
    terms = draft(engine, h, "app-1")
    record = AcceptanceRecord(
        application_id="app-1",
        terms_sha256=terms.sha256,
        template_id=terms.template_id,
        template_version=terms.template_version,
        language="en",
        decided_by="Dr. A. Founder",
        accepted_at=datetime.now(UTC),
        request=None,
    )
    run(engine, h.on_acceptance_recorded, command(m.ACCEPTANCE_RECORDED, record))
    changed = record.model_copy(update={"decided_by": "someone else"})
    run(engine, h.on_acceptance_recorded, command(m.ACCEPTANCE_RECORDED, changed))
    with unit_of_work(engine) as session:
        row = session.get(AcceptanceRow, ("app-1", terms.sha256))
        assert row is not None and row.decided_by == "Dr. A. Founder"  # never overwritten
    forged = record.model_copy(update={"terms_sha256": "f" * 64})
    with pytest.raises(Rejected, match="unknown terms"):
        run(engine, h.on_acceptance_recorded, command(m.ACCEPTANCE_RECORDED, forged))
