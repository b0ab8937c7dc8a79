"""Charter: terms and agreement documents."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from loket_contracts.bounds import CountryCode, Eur, Id, Name
from loket_contracts.messages.allocation import Language
from loket_contracts.messages.shared import AllocatedLine
from loket_contracts.messages.vouchers import Instrument

# ---- charter -------------------------------------------------------------------------------

TERMS_REQUESTED = "eu.loket.charter.terms.requested.v1"
TERMS_RENDERED = "eu.loket.charter.terms.rendered.v1"
ACCEPTANCE_RECORDED = "eu.loket.charter.acceptance.recorded.v1"  # body: AcceptanceRecord


class TermsRequested(BaseModel):
    application_id: Id
    applicant_name: Name
    applicant_country: CountryCode
    lines: list[AllocatedLine] = Field(max_length=50)
    instrument: Instrument
    aid_element_eur: Eur
    voucher_eur: Eur
    co_payment_eur: Eur
    language: Language = "en"
    # pilot-access when a voucher pays part, paid-access at market price; derived when absent
    mode: Literal["pilot-access", "paid-access"] | None = None


class TermsRendered(BaseModel):
    application_id: Id
    template_id: str
    template_version: str
    text: str
    sha256: str
    language: Language = "en"
    documents: dict[str, str] = Field(
        default_factory=dict, description="rendered files by format (md, html, pdf)"
    )


DOCUMENT_QUERY = "eu.loket.charter.document.query.v1"
DOCUMENT_REPLY = "eu.loket.charter.document.reply.v1"


class DocumentQuery(BaseModel):
    """An agreement as a file: asked by the gateway for the application's owner."""

    application_id: Id
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    format: Literal["md", "html", "pdf"]


class DocumentReply(BaseModel):
    application_id: Id
    found: bool
    media_type: str | None = None
    content_b64: str | None = None  # the file, base64 (a PDF agreement is tens of KB)
