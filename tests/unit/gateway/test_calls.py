"""A call's rules: what a manager may change, and when; every change is a new version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from loket_contracts.calls import Call, CallAmendment, CallClosing, CallSpec
from loket_gateway import calls, rounds
from loket_gateway.problems import Problem
from pydantic import ValidationError

NOW = datetime(2027, 2, 1, 12, tzinfo=UTC)


def batch_call(**change: object) -> Call:
    spec = CallSpec(
        call_id="LOKET-2027-B1",
        title="Quantum pilot lines, batch",
        mode="batch",
        opens_at=NOW - timedelta(days=1),
        closes_at=NOW + timedelta(days=10),
        budgets={"quantum": Decimal(100_000)},
    )
    return calls.opened(spec, "Maria Manager", NOW - timedelta(days=2)).model_copy(update=change)


def amend(call: Call, **fields: object) -> Call:
    change = CallAmendment(version=call.version, reason="call text corrigendum", **fields)
    return calls.amended(call, change, "Maria Manager", NOW)


def problem(excinfo: pytest.ExceptionInfo[Problem]) -> tuple[int, str]:
    return excinfo.value.status, excinfo.value.slug


def test_an_amendment_is_a_new_version_and_keeps_what_it_does_not_name() -> None:
    call = batch_call()
    later = amend(call, budgets={"ai": Decimal(50_000)}, closes_at=NOW + timedelta(days=20))
    assert later.version == 2 and later.changed_by == "Maria Manager"
    assert later.budgets == {"quantum": Decimal(100_000), "ai": Decimal(50_000)}
    assert later.closes_at == NOW + timedelta(days=20) and later.mode == "batch"


def test_a_change_made_meanwhile_is_refused_not_overwritten() -> None:
    call = batch_call(version=3)
    stale = CallAmendment(version=2, reason="x", title="Another title")
    with pytest.raises(Problem) as excinfo:
        calls.amended(call, stale, "Maria Manager", NOW)
    assert problem(excinfo) == (409, "stale-version")


@pytest.mark.parametrize(
    ("call", "fields", "expected"),
    [
        (batch_call(), {"opens_at": NOW + timedelta(days=1)}, (409, "call-already-open")),
        (
            batch_call(closes_at=NOW - timedelta(seconds=1)),
            {"closes_at": NOW + timedelta(days=1)},
            (409, "cut-off-passed"),
        ),
        (batch_call(), {"closes_at": NOW - timedelta(days=1)}, (422, "closes-in-the-past")),
        (batch_call(status="closed"), {"title": "Reopened?"}, (409, "call-closed")),
    ],
    ids=["open-already", "cut-off-passed", "closing-in-the-past", "closed"],
)
def test_what_can_no_longer_change(
    call: Call, fields: dict[str, object], expected: tuple[int, str]
) -> None:
    with pytest.raises(Problem) as excinfo:
        amend(call, **fields)
    assert problem(excinfo) == expected


def test_closing_early_moves_the_cut_off_to_now() -> None:
    call = calls.closed(batch_call(), CallClosing(version=1, reason="budget spent"), "M", NOW)
    assert (call.status, call.closes_at, call.version) == ("closed", NOW, 2)
    assert not call.open_at(NOW - timedelta(seconds=1))  # closed is closed, whatever the time


def test_a_call_closed_before_it_opens_keeps_its_dates() -> None:
    upcoming = batch_call(opens_at=NOW + timedelta(days=1), closes_at=NOW + timedelta(days=9))
    call = calls.closed(upcoming, CallClosing(version=1, reason="withdrawn"), "M", NOW)
    assert (call.status, call.opens_at, call.closes_at) == (
        "closed",
        upcoming.opens_at,
        upcoming.closes_at,
    )
    assert not call.open_at(NOW + timedelta(days=2))


def test_a_call_is_open_between_its_dates_only() -> None:
    call = batch_call()
    assert call.open_at(NOW)
    assert not call.open_at(call.opens_at - timedelta(seconds=1))
    assert call.closes_at is not None and not call.open_at(call.closes_at)


@pytest.mark.parametrize(
    "bad",
    [
        {"mode": "batch", "closes_at": None},  # a batch call needs its cut-off
        {"closes_at": NOW - timedelta(days=5)},  # closes before it opens
        {"budgets": {"quantum": Decimal("NaN")}},
        {"budgets": {"quantum": Decimal(-1)}},
        {"budgets": {"space-mining": Decimal(1)}},  # not a priority area
        {"budgets": {}},
        {"call_id": "../etc"},
        {"call_id": "x" * 61},
        {"country_share_cap": 1.5},
    ],
)
def test_a_call_is_bounded_where_it_enters(bad: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "call_id": "LOKET-2027-B2",
        "title": "t",
        "mode": "online",
        "opens_at": NOW,
        "budgets": {"quantum": Decimal(1)},
        **bad,
    }
    with pytest.raises(ValidationError):
        CallSpec.model_validate(fields)


@pytest.mark.parametrize(
    ("cut_off", "fires"),
    [
        (datetime(2027, 3, 31, 23, 59, 59, 700_000, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC)),
        (datetime(2027, 3, 31, 12, 0, 8, tzinfo=UTC), datetime(2027, 3, 31, 12, 0, 8, tzinfo=UTC)),
        (
            datetime(2027, 3, 31, 14, 0, 8, 1, tzinfo=timezone(timedelta(hours=2))),
            datetime(2027, 3, 31, 12, 0, 9, tzinfo=UTC),
        ),
    ],
)
def test_a_round_never_fires_before_its_cut_off(cut_off: datetime, fires: datetime) -> None:
    """The schedule matches one whole second (UTC): never the cut-off's own second when the
    cut-off falls inside it, or the round could run while the call still takes applications."""
    [calendar] = rounds.at_once(cut_off).calendars
    fields = ("year", "month", "day_of_month", "hour", "minute", "second")
    year, month, day, hour, minute, second = (getattr(calendar, f)[0].start for f in fields)
    assert datetime(year, month, day, hour, minute, second, tzinfo=UTC) == fires >= cut_off
