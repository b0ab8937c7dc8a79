"""Ages by the calendar: a company registered on 29 February has its birthday on the 28th."""

from __future__ import annotations

from datetime import date


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def age_in_years(registered_on: date, as_of: date) -> int:
    years = as_of.year - registered_on.year
    if (as_of.month, as_of.day) < (registered_on.month, registered_on.day):
        years -= 1
    return years
