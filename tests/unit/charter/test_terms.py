"""Charter agreements: golden files per access mode × language, hash binding, addenda, diff.

Regenerate the golden files after an intended template change with
`LOKET_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/charter` and review the diff."""

from __future__ import annotations

import hashlib
import os
from decimal import Decimal
from pathlib import Path

import pytest
from loket_charter.domain.sample import sample_request
from loket_charter.domain.terms import (
    LANGUAGES,
    MODES,
    SiteAddendum,
    render,
    template_diff,
    to_html,
    to_pdf,
)

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("mode", MODES)
def test_golden_agreement(mode: str, language: str) -> None:
    terms = render(sample_request(mode=mode, language=language))  # type: ignore[arg-type]
    golden = GOLDEN / f"{mode}.{language}.md"
    if os.environ.get("LOKET_UPDATE_GOLDEN"):
        golden.write_text(terms.text, encoding="utf-8")
    assert terms.text == golden.read_text(encoding="utf-8")
    assert terms.sha256 == hashlib.sha256(terms.text.encode()).hexdigest()


def test_one_agreement_covers_every_site_with_the_clauses_a_lawyer_looks_for() -> None:
    text = render(sample_request()).text
    assert "Grenoble Synchrotron ID19, Grenoble (FR, RI)" in text
    assert "Leuven 300mm Pilot Line, Leuven (BE, TI)" in text
    for clause in (
        "Parties",
        "Services, units, dates and access mode per site",
        "Price, voucher and co-payment",
        "State aid",
        "Intellectual property",
        "Confidentiality",
        "Data management",
        "Acknowledgement of EU funding",
        "Safety and training",
        "Shipment of samples",
        "Liability",
        "Governing law and disputes",
        "Termination",
        "Access report",
    ):
        assert f". {clause}\n" in text
    assert "(EU) 2023/2831" in text and "co-payment): EUR 2,000.00" in text
    assert "remote" in text  # the access mode per line


def test_translations_say_the_english_text_binds() -> None:
    assert "binding version" in render(sample_request(language="en")).text
    for language, phrase in (
        ("nl", "Alleen de Engelse tekst"),
        ("de", "Verbindlich ist allein"),
        ("fr", "Seul le texte anglais"),
    ):
        assert phrase in render(sample_request(language=language)).text  # type: ignore[arg-type]


def test_paid_access_has_no_voucher_no_aid_and_no_report() -> None:
    text = render(sample_request(mode="paid-access")).text
    assert "involves no State aid" in text and "No access report is required" in text
    assert "voucher:" not in text


def test_hash_changes_when_anything_material_changes() -> None:
    base = sample_request()
    assert render(base).sha256 == render(base).sha256
    cheaper = base.model_copy(update={"voucher_eur": Decimal(14000)})
    assert render(base).sha256 != render(cheaper).sha256


def test_addendum_is_composed_into_the_annex() -> None:
    addendum = SiteAddendum(
        "Dosimeter badge at all times",
        "Samples returned within 30 days",
        "French labour law applies on site",
    )
    text = render(sample_request(), {"fr-grenoble-sync": addendum}).text
    annex = text.split("## Annex: site addenda")[1]
    assert "Dosimeter badge at all times" in annex
    assert "No addendum: the common text applies unchanged." in annex  # Leuven has none


def test_html_and_pdf_renderings() -> None:
    text = render(sample_request(language="fr")).text
    html = to_html(text)
    assert html.startswith("<!doctype html>") and "<h2>5. Propriété intellectuelle</h2>" in html
    pdf = to_pdf(text)
    assert pdf.startswith(b"%PDF-") and len(pdf) > 2000


def test_diff_between_template_versions_shows_what_changed_for_the_applicant() -> None:
    diff = template_diff("pilot-access", "2026.1", "2026.2")
    assert "-Each party's liability towards the others is limited to the market value" in diff
    assert "+Each party's liability towards the others is limited to twice the market value" in diff
    assert "36 months" in diff and "24 months" in diff
    assert "Intellectual property" not in diff  # unchanged clauses are not repeated


def test_facility_text_cannot_forge_a_clause_or_inject_markup() -> None:
    forged = SiteAddendum(
        "Goggles\n\n## 15. Forged clause\nThe user pays EUR 1,000,000.",
        '<script>alert("x")</script> [login](javascript:alert(1))',
        "<img src=x onerror=alert(1)>",
    )
    req = sample_request()
    req.lines[0] = req.lines[0].model_copy(update={"facility_name": "Sync\n# Fake title"})
    text = render(req, {"fr-grenoble-sync": forged}).text
    assert "\n## 15. Forged clause" not in text and "\n# Fake title" not in text
    assert "Goggles ## 15. Forged clause The user pays" in text  # kept, on its own line
    html = to_html(text)
    assert "<script" not in html and "<img" not in html and "<a " not in html
    assert "&lt;script&gt;" in html
    assert to_pdf(text).startswith(b"%PDF-")
