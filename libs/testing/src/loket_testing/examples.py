"""Valid request bodies for tests, each with fresh ids (a session's platform is shared, so no
two tests meet): a facility's profile and slot, and a start-up's application."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2027, 6, 7, 8, tzinfo=UTC)


def _tag() -> str:
    return uuid.uuid4().hex[:8]


@dataclass
class Facility:
    """A facility offering one service type, with one slot of `units` from START."""

    country: str = "DE"
    units: int = 6
    price_eur: int = 3000
    facility_id: str = field(default_factory=lambda: f"fac-{_tag()}")
    service_type: str = field(default_factory=lambda: f"xray.imaging-{_tag()}")

    @property
    def profile(self) -> dict[str, Any]:
        offering = {
            "offering_id": "o1",
            "service_type": self.service_type,
            "unit": "shift",
            "market_price_eur": self.price_eur,
            "access_modes": ["physical"],
        }
        return {
            "facility_id": self.facility_id,
            "sequence": 1,
            "name": f"Beamline {self.facility_id}",
            "site": "Hamburg",
            "country": self.country,
            "kind": "RI",
            "offerings": [offering],
        }

    @property
    def slot(self) -> dict[str, Any]:
        return {
            "facility_id": self.facility_id,
            "sequence": 2,
            "slot_id": "s1",
            "offering_id": "o1",
            "start": START.isoformat(),
            "end": (START + timedelta(days=3)).isoformat(),
            "capacity_units": self.units,
        }


def application(service_type: str, units: int = 2, country: str = "AT") -> dict[str, Any]:
    """An eligible start-up of `country` asking for `units` of `service_type`."""
    return {
        "applicant": {
            "undertaking_id": f"{country}-{_tag()}",
            "name": "Integrator Test GmbH",
            "country": country,
            "workplace_country": country,
            "registered_on": "2024-02-01",
            "staff_awu": 9,
            "turnover_eur": "900000",
            "balance_sheet_eur": "700000",
            "nace_code": "C26.1",
        },
        "priority_area": "advanced-materials",
        "needs": [
            {
                "service_type": service_type,
                "units": units,
                "earliest_start": START.isoformat(),
                "latest_end": (START + timedelta(days=10)).isoformat(),
            }
        ],
    }
