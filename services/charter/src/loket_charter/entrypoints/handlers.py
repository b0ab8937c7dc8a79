"""Kafka entrypoints of the charter service: facility addenda in, agreements out."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from loket_contracts import capacity as cap
from loket_contracts import commands as c
from loket_contracts import messages as m
from loket_contracts import topics
from loket_contracts.application import AcceptanceRecord
from loket_contracts.envelope import CloudEvent
from loket_messaging import Emitter, Outgoing, ServiceRuntime
from loket_messaging.db import after_commit
from loket_messaging.failures import Rejected
from loket_messaging.handlers import answers
from sqlalchemy import Table, bindparam, select
from sqlmodel import Session

from loket_charter.adapters.tables import AcceptanceRow, FacilityTermsRow, TermsDocumentRow
from loket_charter.domain.terms import SiteAddendum, render, to_html, to_pdf

SOURCE = "loket/charter"
emit = Emitter(topics.CHARTER_EVENTS, SOURCE)
reply = Emitter(topics.CHARTER_REPLIES, SOURCE)
MEDIA_TYPES = {"md": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8"}
RENDERINGS: dict[str, Callable[[str], bytes]] = {
    "md": lambda text: text.encode(),
    "html": lambda text: to_html(text).encode(),
    "pdf": to_pdf,
}
EAGER = ("md", "html")  # cheap; the PDF waits for its first reader
_DOCUMENTS: Table = TermsDocumentRow.__table__  # type: ignore[attr-defined]
# Whether an agreement is on file, without loading its text (built once, run with a parameter).
_KNOWN = select(_DOCUMENTS.c.sha256).where(_DOCUMENTS.c.sha256 == bindparam("sha256"))


def _known(session: Session, sha256: str) -> bool:
    """Whether the agreement with this hash is on file (flushed: the consumer flushes after
    each record, so one added by an earlier record of the batch is seen)."""
    return session.execute(_KNOWN, {"sha256": sha256}).first() is not None


class CharterHandlers:
    def __init__(self, documents_dir: Path) -> None:
        self.documents_dir = documents_dir

    def on_facility_terms(self, session: Session, event: CloudEvent) -> Sequence[Outgoing]:
        body = cap.decode(event, cap.FacilityTerms)
        row = session.get(FacilityTermsRow, body.facility_id)
        if row is not None and body.sequence <= row.sequence:
            return []  # stale or duplicate: agreements keep the newest addendum
        row = row or FacilityTermsRow(
            facility_id=body.facility_id,
            sequence=body.sequence,
            safety_rules="",
            sample_handling="",
            local_law_notes="",
        )
        row.sequence = body.sequence
        row.safety_rules, row.sample_handling = body.safety_rules, body.sample_handling
        row.local_law_notes = body.local_law_notes
        session.add(row)
        return []

    @answers(c.TERMS)
    def on_terms_requested(self, session: Session, cmd: m.TermsRequested) -> Sequence[Outgoing]:
        addenda = {}
        for facility_id in {line.facility_id for line in cmd.lines}:
            row = session.get(FacilityTermsRow, facility_id)
            if row is not None:
                addenda[facility_id] = SiteAddendum(
                    row.safety_rules, row.sample_handling, row.local_law_notes
                )
        terms = render(cmd, addenda)
        if not _known(session, terms.sha256):
            session.add(
                TermsDocumentRow(
                    sha256=terms.sha256,
                    application_id=cmd.application_id,
                    template_id=terms.template_id,
                    template_version=terms.template_version,
                    language=terms.language,
                    text=terms.text,
                )
            )
        body = m.TermsRendered(
            application_id=cmd.application_id,
            template_id=terms.template_id,
            template_version=terms.template_version,
            text=terms.text,
            sha256=terms.sha256,
            language=cmd.language,
            documents=self._paths(cmd.application_id, terms.sha256),
        )
        # The text and its hash are the agreement; the renderings are made after the commit so
        # that no transaction waits on them. The PDF (fpdf2, ~20 ms) only when first asked
        # for: most applicants accept from the text, and it is the same bytes whenever made.
        after_commit(
            session, lambda: self._write(cmd.application_id, terms.sha256, terms.text, EAGER)
        )
        return [emit(m.TERMS_RENDERED, body, cmd.application_id)]

    def on_acceptance_recorded(self, session: Session, event: CloudEvent) -> Sequence[Outgoing]:
        record = event.decode(AcceptanceRecord)
        if not _known(session, record.terms_sha256):
            raise Rejected(f"acceptance of unknown terms {record.terms_sha256[:12]}…")
        if session.get(AcceptanceRow, (record.application_id, record.terms_sha256)) is None:
            session.add(
                AcceptanceRow(
                    application_id=record.application_id,
                    terms_sha256=record.terms_sha256,
                    template_id=record.template_id,
                    template_version=record.template_version,
                    language=record.language,
                    decided_by=record.decided_by,
                    accepted_at=record.accepted_at,
                    request_json=record.request.model_dump_json() if record.request else "{}",
                )
            )
        return []  # immutable: a repeated record changes nothing

    def on_document_query(self, session: Session, event: CloudEvent) -> Sequence[Outgoing]:
        """An agreement as a file, rendered from the stored text: the same bytes every time."""
        q = event.decode(m.DocumentQuery)
        row = session.get(TermsDocumentRow, q.sha256)
        if row is None or row.application_id != q.application_id:
            body = m.DocumentReply(application_id=q.application_id, found=False)
        else:
            self._write(q.application_id, q.sha256, row.text, (q.format,))
            content = Path(self._paths(q.application_id, q.sha256)[q.format]).read_bytes()
            body = m.DocumentReply(
                application_id=q.application_id,
                found=True,
                media_type=MEDIA_TYPES.get(q.format, "application/pdf"),
                content_b64=base64.b64encode(content).decode(),
            )
        return [reply(m.DOCUMENT_REPLY, body, event.id)]

    def _paths(self, application_id: str, sha256: str) -> dict[str, str]:
        """Markdown, HTML and PDF next to each other, named by the hash."""
        folder = self.documents_dir / application_id
        return {fmt: str(folder / f"agreement-{sha256[:16]}.{fmt}") for fmt in RENDERINGS}

    def _write(self, application_id: str, sha256: str, text: str, formats: Iterable[str]) -> None:
        """Each rendering written once, atomically: rewriting is harmless."""
        paths = self._paths(application_id, sha256)
        for fmt in formats:
            path = Path(paths[fmt])
            if path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f"{path.suffix}.{uuid.uuid4().hex[:8]}.tmp")  # writers race
            tmp.write_bytes(RENDERINGS[fmt](text))
            tmp.replace(path)


def register(runtime: ServiceRuntime) -> CharterHandlers:
    handlers = CharterHandlers(runtime.settings.data_dir / "agreements")
    runtime.answer(handlers.on_terms_requested)
    runtime.handle(topics.CHARTER_COMMANDS, m.ACCEPTANCE_RECORDED, handlers.on_acceptance_recorded)
    runtime.handle(topics.FACILITY_CAPACITY, cap.TERMS, handlers.on_facility_terms)
    runtime.handle(topics.CHARTER_QUERIES, m.DOCUMENT_QUERY, handlers.on_document_query)
    for other in (cap.PROFILE, cap.SLOT_PUBLISHED, cap.SLOT_WITHDRAWN, cap.DELIVERY):
        runtime.ignore(topics.FACILITY_CAPACITY, other)  # the allocation service's business
    return handlers
