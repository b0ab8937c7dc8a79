"""A batch call's holds: queued until the call's round, answered by it; a withdrawn one is
not served; a late one (after the round) is served first come. Vouchers take a call's
budgets from the gateway's CallChanged, newest version only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from loket_allocation.adapters.tables import RoundEntryRow
from loket_allocation.entrypoints.rounds import PLACED_BEYOND_THE_MODEL
from loket_contracts import capacity as cap
from loket_contracts import messages as m
from loket_contracts.calls import CALL_CHANGED, CallChanged
from loket_contracts.envelope import CloudEvent, EnvelopeError, make_event
from loket_messaging.db import unit_of_work
from loket_vouchers.adapters.tables import CallBudgetRow
from loket_vouchers.entrypoints import calls as voucher_calls
from sqlalchemy import Engine
from sqlmodel import select

from tests.integration.services.test_allocation_handlers import (
    T0,
    apply,
    facility_event,
    h,
    hold_cmd,
    profile,
    slot,
    slot_row,
)

CALL = "BATCH-1"


def queued_hold(app_id: str, units: int, country: str = "AT") -> CloudEvent:
    cmd = hold_cmd(app_id, units, country).model_copy(update={"batch_call_id": CALL})
    return make_event(source="test", type_=m.HOLD_REQUESTED, body=cmd, correlation_id=app_id)


def round_requested(round_id: str = "round-BATCH-1-1") -> CloudEvent:
    body = m.RoundRequested(round_id=round_id, call_id=CALL)
    return make_event(source="test", type_=m.ROUND_REQUESTED, body=body, correlation_id=round_id)


def test_queued_holds_wait_for_the_round_which_answers_each(engine: Engine) -> None:
    apply(engine, h.on_profile, profile())
    apply(engine, h.on_slot_published, slot(2, units=3))
    assert apply(engine, h.on_hold_requested, queued_hold("app-a", 2)) == []
    assert apply(engine, h.on_hold_requested, queued_hold("app-a", 2)) == []  # resent
    assert apply(engine, h.on_hold_requested, queued_hold("app-b", 2, "DE")) == []
    assert apply(engine, h.on_hold_requested, queued_hold("app-c", 1, "DE")) == []
    apply(
        engine,
        h.on_release_requested,
        make_event(
            source="test", type_=m.RELEASE_REQUESTED, body=m.AllocationRef(application_id="app-c")
        ),
    )  # cancelled while waiting: never served
    assert slot_row(engine).held_units == 0  # nothing held before the round

    out = apply(engine, h.on_round_requested, round_requested())
    by_type: dict[str, list[CloudEvent]] = {}
    for o in out:
        by_type.setdefault(o.event.type, []).append(o.event)
    solved = by_type[m.ROUND_SOLVED][0].decode(m.RoundSolved)
    assert solved.call_id == CALL
    # 3 units, two applications of 2: one served, one refused with a reason.
    assert len(solved.served) == 1 and len(solved.unserved) == 1
    assert set(solved.served + solved.unserved) == {"app-a", "app-b"}
    assert solved.requested_by_country == {"AT": 1, "DE": 1}
    assert sum(solved.served_by_country.values()) == 1
    assert solved.lp_bound >= solved.objective > 0
    [placed] = by_type[m.HOLD_PLACED]
    [failed] = by_type[m.HOLD_FAILED]
    assert placed.correlation_id in solved.served
    assert "not served in batch round" in failed.decode(m.HoldFailed).reason
    assert slot_row(engine).held_units == 2
    with unit_of_work(engine) as session:
        statuses = {r.application_id: r.status for r in session.exec(select(RoundEntryRow))}
    assert statuses == {"app-a": "decided", "app-b": "decided", "app-c": "withdrawn"}

    # After the round, a late application of the call is served first come from what is left.
    [late] = apply(engine, h.on_hold_requested, queued_hold("app-d", 1, "DE"))
    assert late.event.type == m.HOLD_PLACED
    assert slot_row(engine).held_units == 3


def test_a_round_that_kept_some_slots_a_need_says_so_to_those_it_served(engine: Engine) -> None:
    """Nine one-unit slots fit each of nine one-unit needs; the round's model keeps 7 a need,
    its placement uses all nine, and each served applicant's reason says so."""
    apply(engine, h.on_profile, profile())
    for i in range(9):
        published = cap.SlotPublished(
            facility_id="fr-1",
            sequence=2 + i,
            slot_id=f"s{i}",
            offering_id="o1",
            start=T0 + timedelta(hours=i),
            end=T0 + timedelta(days=2),
            capacity_units=1,
        )
        apply(engine, h.on_slot_published, facility_event(cap.SLOT_PUBLISHED, published))
    for i in range(9):
        assert apply(engine, h.on_hold_requested, queued_hold(f"app-{i}", 1)) == []
    out = apply(engine, h.on_round_requested, round_requested())
    [solved] = [o.event.decode(m.RoundSolved) for o in out if o.event.type == m.ROUND_SOLVED]
    assert len(solved.served) == 9 and "slots kept a need" in solved.status
    placed = [o.event.decode(m.HoldPlaced) for o in out if o.event.type == m.HOLD_PLACED]
    assert len(placed) == 9
    assert all(p.reason.endswith(PLACED_BEYOND_THE_MODEL) for p in placed)


def test_a_round_nobody_waited_for_solves_nothing(engine: Engine) -> None:
    [out] = apply(engine, h.on_round_requested, round_requested())
    solved = out.event.decode(m.RoundSolved)
    assert (solved.served, solved.unserved, solved.status) == ([], [], "no applications")


def changed(version: int, quantum: str, source: str = "loket/gateway") -> CloudEvent:
    body = CallChanged(
        call_id=CALL,
        version=version,
        mode="batch",
        status="open",
        closes_at=datetime(2027, 1, 1, tzinfo=UTC),
        budgets={"quantum": Decimal(quantum)},
    )
    return make_event(source=source, type_=CALL_CHANGED, body=body, correlation_id=CALL)


def test_vouchers_take_the_newest_version_of_a_calls_budget(engine: Engine) -> None:
    apply(engine, voucher_calls.on_call_changed, changed(2, "50000"))
    apply(engine, voucher_calls.on_call_changed, changed(1, "10"))  # older, arrives late
    apply(engine, voucher_calls.on_call_changed, changed(2, "99"))  # the same version again
    with unit_of_work(engine) as session:
        row = session.get(CallBudgetRow, (CALL, "quantum"))
        assert row is not None and row.total_eur == Decimal("50000")
    apply(engine, voucher_calls.on_call_changed, changed(3, "80000"))
    with unit_of_work(engine) as session:
        row = session.get(CallBudgetRow, (CALL, "quantum"))
        assert row is not None and row.total_eur == Decimal("80000")
    assert row.reserved_eur == row.granted_eur == Decimal(0)


def test_only_the_gateway_sets_budgets() -> None:
    with pytest.raises(EnvelopeError, match="loket/gateway"):
        voucher_calls.only_the_gateway({}, changed(4, "1", source="loket/allocation"))
