"""State-aid and budget configuration, versioned. Every amount names its legal source."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class AidScheme:
    version: str
    de_minimis_ceiling_eur: Decimal
    de_minimis_window_years: int
    call_budgets_eur: dict[str, dict[str, Decimal]] = field(default_factory=dict)


PILOT_2026 = AidScheme(
    version="pilot-2026",
    # Reg. (EU) 2023/2831 Art. 3(2): €300,000 per single undertaking over any period of three years.
    de_minimis_ceiling_eur=Decimal(300_000),
    de_minimis_window_years=3,
    # Pilot call budgets per priority area (call decision of the programme, not a regulation).
    call_budgets_eur={
        "LOKET-2026-01": {
            "advanced-materials": Decimal(1_500_000),
            "clean-energy": Decimal(1_500_000),
            "quantum": Decimal(1_000_000),
            "ai": Decimal(1_000_000),
            "health-biotech": Decimal(1_500_000),
        }
    },
)
