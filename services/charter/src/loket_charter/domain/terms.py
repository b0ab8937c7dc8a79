"""Render one harmonised agreement for all the sites of a bundle. Pure: data in, text out."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from string import Template

from loket_contracts.messages import TermsRequested

TEMPLATE_ID = "pilot-access"
TEMPLATE_VERSION = "2026.1"

STATE_AID_TEXT = {
    "de_minimis": (
        "The voucher is de minimis aid of EUR {aid} to the User under Commission Regulation (EU) "
        "2023/2831, which the User must declare in any later de minimis application for three "
        "years."
    ),
    "gber_art28": (
        "The voucher is innovation aid of EUR {aid} to the User under Article 28 of Commission "
        "Regulation (EU) No 651/2014 (GBER)."
    ),
    "no_aid": "The User pays the market price: the access involves no State aid.",
}


@dataclass(frozen=True)
class RenderedTerms:
    template_id: str
    template_version: str
    text: str
    sha256: str


def _eur(value: Decimal) -> str:
    return f"{value:,.2f}"


def render(req: TermsRequested) -> RenderedTerms:
    source = resources.files("loket_charter").joinpath(
        "templates", f"{TEMPLATE_ID}.{TEMPLATE_VERSION}.{req.language}.txt"
    )
    template = Template(source.read_text(encoding="utf-8"))
    site_lines = "\n".join(
        f"- {line.facility_name}, {line.site} ({line.country}, {line.kind}): {line.units} "
        f"{line.unit}(s) of {line.service_type}, slot {line.slot_id}, "
        f"{line.start:%Y-%m-%d %H:%M} to {line.end:%Y-%m-%d %H:%M} UTC, "
        f"market value EUR {_eur(line.market_value_eur)}"
        for line in sorted(req.lines, key=lambda x: (x.start, x.facility_id))
    )
    market_value = sum((line.market_value_eur for line in req.lines), Decimal(0))
    text = template.substitute(
        template_version=TEMPLATE_VERSION,
        application_id=req.application_id,
        applicant_name=req.applicant_name,
        applicant_country=req.applicant_country,
        site_lines=site_lines,
        market_value=_eur(market_value),
        voucher=_eur(req.voucher_eur),
        co_payment=_eur(req.co_payment_eur),
        state_aid_statement=STATE_AID_TEXT[req.instrument].format(aid=_eur(req.aid_element_eur)),
    )
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return RenderedTerms(TEMPLATE_ID, TEMPLATE_VERSION, text, digest)
