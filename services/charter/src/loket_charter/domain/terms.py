"""One harmonised agreement for every site of a bundle. Pure: data in, text out.

Templates are versioned folders (`templates/<version>/`): one Markdown structure
(`agreement.md.j2`) and one phrasebook per language (`en.toml` binding; `nl`, `de`, `fr`
translations marked as such). The canonical text is the rendered Markdown; its SHA-256 binds
what the applicant accepts. HTML and PDF are renderings of that text.
"""

from __future__ import annotations

import difflib
import hashlib
import html
import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, StrictUndefined
from loket_contracts.messages import TermsRequested

TEMPLATE_VERSIONS = ("2026.1", "2026.2")
CURRENT_VERSION = TEMPLATE_VERSIONS[-1]
MODES = ("pilot-access", "paid-access")
LANGUAGES = ("en", "nl", "de", "fr")


@dataclass(frozen=True)
class SiteAddendum:
    safety_rules: str
    sample_handling: str
    local_law_notes: str


@dataclass(frozen=True)
class RenderedTerms:
    template_id: str  # the access mode
    template_version: str
    language: str
    text: str
    sha256: str


def _folder(version: str) -> Any:
    if version not in TEMPLATE_VERSIONS:
        raise ValueError(f"unknown template version {version!r}; known: {TEMPLATE_VERSIONS}")
    return resources.files("loket_charter").joinpath("templates", version)


@cache
def _phrasebook(version: str, language: str) -> dict[str, str]:
    if language not in LANGUAGES:
        raise ValueError(f"no {language!r} translation; available: {LANGUAGES}")
    data: dict[str, str] = tomllib.loads(
        _folder(version).joinpath(f"{language}.toml").read_text(encoding="utf-8")
    )
    return data


@cache
def _template(version: str) -> Any:
    env = Environment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)
    return env.from_string(_folder(version).joinpath("agreement.md.j2").read_text(encoding="utf-8"))


def _eur(value: Decimal) -> str:
    return f"{value:,.2f}"


def canonical(text: str) -> str:
    """Whitespace normalised, so the hash depends on words and numbers only."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def _inline(value: str) -> str:
    """Text from applicants and facilities stays on its line: a newline in a facility name
    or addendum must not start a heading or clause of its own in the agreement."""
    return " ".join(value.split())


def _inline_addendum(addendum: SiteAddendum | None) -> SiteAddendum | None:
    if addendum is None:
        return None
    return SiteAddendum(
        safety_rules=_inline(addendum.safety_rules),
        sample_handling=_inline(addendum.sample_handling),
        local_law_notes=_inline(addendum.local_law_notes),
    )


def mode_for(req: TermsRequested) -> str:
    return req.mode or ("pilot-access" if req.voucher_eur > 0 else "paid-access")


def render(
    req: TermsRequested,
    addenda: dict[str, SiteAddendum] | None = None,
    version: str = CURRENT_VERSION,
) -> RenderedTerms:
    addenda = addenda or {}
    mode = mode_for(req)
    sites: dict[str, dict[str, Any]] = {}
    for line in sorted(req.lines, key=lambda x: (x.start, x.facility_id, x.slot_id)):
        site = sites.setdefault(
            line.facility_id,
            {
                "facility_name": _inline(line.facility_name),
                "site": _inline(line.site),
                "country": line.country,
                "kind": line.kind,
                "addendum": _inline_addendum(addenda.get(line.facility_id)),
                "lines": [],
            },
        )
        site["lines"].append(
            {
                "units": line.units,
                "unit": line.unit,
                "service_type": _inline(line.service_type),
                "slot_id": _inline(line.slot_id),
                "start": f"{line.start:%Y-%m-%d %H:%M}",
                "end": f"{line.end:%Y-%m-%d %H:%M}",
                "access_mode": line.access_mode,
                "market_value": _eur(line.market_value_eur),
            }
        )
    market_value = sum((line.market_value_eur for line in req.lines), Decimal(0))
    text = canonical(
        _template(version).render(
            t=_phrasebook(version, req.language),
            mode=mode,
            version=version,
            language=req.language,
            application_id=req.application_id,
            applicant_name=_inline(req.applicant_name),
            applicant_country=req.applicant_country,
            sites=list(sites.values()),
            market_value=_eur(market_value),
            voucher=_eur(req.voucher_eur),
            co_payment=_eur(req.co_payment_eur),
            instrument=req.instrument if mode == "pilot-access" else "no_aid",
            aid=_eur(req.aid_element_eur),
        )
    )
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return RenderedTerms(mode, version, req.language, text, digest)


def to_html(text: str) -> str:
    """Headings, lists and emphasis only. The text carries words from facilities and
    applicants: raw HTML is escaped and links are not made, so no script or link gets in."""
    import markdown

    md = markdown.Markdown(output_format="html")
    for pattern in _LINK_PATTERNS:
        if pattern in md.inlinePatterns:
            md.inlinePatterns.deregister(pattern)
    body = md.convert(html.escape(text, quote=False))
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        "<title>Loket access agreement</title></head>\n<body>\n" + body + "\n</body></html>\n"
    )


_LINK_PATTERNS = (
    "link",
    "image_link",
    "reference",
    "image_reference",
    "short_reference",
    "short_image_ref",
    "autolink",
    "automail",
    "html",
)


def to_pdf(text: str) -> bytes:
    """A plain, searchable PDF of the canonical text (fpdf2)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(18, 18, 18)
    pdf.add_page()
    styles = {"# ": ("B", 15), "## ": ("B", 12), "### ": ("B", 10.5)}
    for raw in text.splitlines():
        line = raw.encode("latin-1", "replace").decode("latin-1")  # core fonts are Latin-1
        for prefix, (style, size) in styles.items():
            if line.startswith(prefix):
                pdf.set_font("Helvetica", style, size)
                pdf.ln(2)
                pdf.multi_cell(0, size * 0.55, line[len(prefix) :], new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1)
                break
        else:
            pdf.set_font("Helvetica", "", 9.5)
            if not line:
                pdf.ln(2.5)
            elif line.startswith("- "):
                pdf.set_x(pdf.l_margin + 4)
                pdf.multi_cell(0, 4.8, "- " + line[2:], new_x="LMARGIN", new_y="NEXT")
            else:
                pdf.multi_cell(0, 4.8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def template_diff(mode: str, from_version: str, to_version: str, language: str = "en") -> str:
    """What changed for an applicant between two template versions, on a sample agreement."""
    from loket_charter.domain.sample import sample_request

    req = sample_request(mode=mode, language=language)  # type: ignore[arg-type]
    before = render(req, version=from_version).text.splitlines()
    after = render(req, version=to_version).text.splitlines()
    return (
        "\n".join(
            difflib.unified_diff(
                before, after, f"{mode} {from_version}", f"{mode} {to_version}", lineterm="", n=1
            )
        )
        + "\n"
    )
