"""Bounded shapes every contract uses, HTTP and Kafka alike.

A value outside these bounds is refused where it enters (a 422 problem at the gateway, the DLQ
on Kafka), so no service ever loops on a number it cannot store or a string too large to send.
The limits are generous for real use and small enough that one record stays far below the
broker's 1 MB message limit.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Final

from pydantic import AfterValidator, Field, StringConstraints

INT64_MAX: Final = 2**63 - 1
# Temporal keyword search attributes and workflow ids stay well inside their limits.
ID_MAX: Final = 120
NAME_MAX: Final = 200
TEXT_MAX: Final = 2000
MAX_EUR: Final = Decimal("1e12")  # above any undertaking's turnover or balance sheet
MAX_PRICE_EUR: Final = 10_000_000  # per unit (shift, hour, day)
MAX_UNITS: Final = 100_000
MAX_AWU: Final = 10_000_000.0
EARLIEST_DATE: Final = date(1800, 1, 1)  # the oldest companies still trading
LATEST_DATE: Final = date(2100, 1, 1)
EARLIEST_TIME: Final = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TIME: Final = datetime(2100, 1, 1, tzinfo=UTC)


def _date_in_window(value: date) -> date:
    if not EARLIEST_DATE <= value < LATEST_DATE:
        raise ValueError(f"date must be between {EARLIEST_DATE} and {LATEST_DATE}")
    return value


def _time_in_window(value: datetime) -> datetime:
    # A time without an offset is read as UTC and kept aware: compared with the aware times
    # the services store (a need's window against a slot's), a naive one raised TypeError.
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not EARLIEST_TIME <= aware < LATEST_TIME:
        raise ValueError(f"time must be between {EARLIEST_TIME:%Y} and {LATEST_TIME:%Y}")
    return aware


Id = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX)]
CallId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX)]
Text = Annotated[str, StringConstraints(max_length=TEXT_MAX)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Eur = Annotated[Decimal, Field(ge=0, le=MAX_EUR, allow_inf_nan=False)]
SignedEur = Annotated[Decimal, Field(ge=-MAX_EUR, le=MAX_EUR, allow_inf_nan=False)]
PriceEur = Annotated[float, Field(gt=0, le=MAX_PRICE_EUR, allow_inf_nan=False)]
Units = Annotated[int, Field(ge=1, le=MAX_UNITS)]
UnitCount = Annotated[int, Field(ge=0, le=MAX_UNITS * 1000)]
Sequence = Annotated[int, Field(ge=0, le=INT64_MAX)]
Awu = Annotated[float, Field(ge=0, le=MAX_AWU, allow_inf_nan=False)]
Percent = Annotated[Decimal, Field(ge=0, le=100, allow_inf_nan=False)]
Seconds = Annotated[int, Field(ge=1, le=10 * 366 * 86400)]
SaneDate = Annotated[date, AfterValidator(_date_in_window)]
SaneTime = Annotated[datetime, AfterValidator(_time_in_window)]
