"""One agreement for every site in the bundle, bound to its SHA-256."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal

from loket_charter.domain.terms import render
from loket_contracts.messages import AllocatedLine, TermsRequested


def line(fid: str, country: str) -> AllocatedLine:
    start = datetime(2027, 3, 1, 8, tzinfo=UTC)
    return AllocatedLine(
        facility_id=fid,
        facility_name=f"{fid} facility",
        site=fid.title(),
        country=country,
        kind="RI",
        offering_id="o",
        slot_id=f"{fid}-s1",
        service_type="beamtime.xray-imaging",
        unit="shift",
        units=2,
        start=start,
        end=start.replace(day=3),
        market_price_eur=Decimal(4000),
        market_value_eur=Decimal(8000),
    )


def request(**changes: object) -> TermsRequested:
    base = dict(
        application_id="app-1",
        applicant_name="Qubitron",
        applicant_country="AT",
        lines=[line("grenoble", "FR"), line("leuven", "BE")],
        instrument="de_minimis",
        aid_element_eur=Decimal(16000),
        voucher_eur=Decimal(16000),
        co_payment_eur=Decimal(0),
    )
    return TermsRequested(**(base | changes))


def test_one_agreement_names_every_site_and_the_state_aid_instrument() -> None:
    terms = render(request())
    assert "Grenoble" in terms.text and "Leuven" in terms.text
    assert "(EU) 2023/2831" in terms.text  # the de minimis statement the regulation requires
    assert "EUR 16,000.00" in terms.text
    assert terms.sha256 == hashlib.sha256(terms.text.encode()).hexdigest()
    assert (terms.template_id, terms.template_version) == ("pilot-access", "2026.1")


def test_hash_changes_when_anything_material_changes() -> None:
    assert render(request()).sha256 == render(request()).sha256
    assert render(request()).sha256 != render(request(voucher_eur=Decimal(15000))).sha256
