"""A fixed two-site sample agreement: golden files and template diffs are rendered from it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from loket_contracts.messages import AllocatedLine, Language, TermsRequested

START = datetime(2027, 3, 1, 8, tzinfo=UTC)


def sample_request(
    mode: Literal["pilot-access", "paid-access"] = "pilot-access", language: Language = "en"
) -> TermsRequested:
    lines = [
        AllocatedLine(
            facility_id="fr-grenoble-sync",
            facility_name="Grenoble Synchrotron ID19",
            site="Grenoble",
            country="FR",
            kind="RI",
            offering_id="o1",
            slot_id="fr-grenoble-sync-s1",
            service_type="beamtime.xray-imaging",
            unit="shift",
            units=2,
            start=START,
            end=START.replace(day=3),
            market_price_eur=Decimal(4000),
            market_value_eur=Decimal(8000),
            access_mode="remote",
        ),
        AllocatedLine(
            facility_id="be-leuven-pilot",
            facility_name="Leuven 300mm Pilot Line",
            site="Leuven",
            country="BE",
            kind="TI",
            offering_id="o1",
            slot_id="be-leuven-pilot-s2",
            service_type="cleanroom.lithography",
            unit="hour",
            units=10,
            start=START.replace(day=15),
            end=START.replace(day=20),
            market_price_eur=Decimal(900),
            market_value_eur=Decimal(9000),
        ),
    ]
    pilot = mode == "pilot-access"
    return TermsRequested(
        application_id="app-sample",
        applicant_name="Qubitron GmbH",
        applicant_country="AT",
        lines=lines,
        instrument="de_minimis" if pilot else "no_aid",
        aid_element_eur=Decimal(15000) if pilot else Decimal(0),
        voucher_eur=Decimal(15000) if pilot else Decimal(0),
        co_payment_eur=Decimal(2000) if pilot else Decimal(17000),
        language=language,
        mode=mode,
    )
