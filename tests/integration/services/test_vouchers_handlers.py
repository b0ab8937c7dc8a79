"""Vouchers: de minimis per single undertaking, budget reservation, issuance, release."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from loket_contracts import messages as m
from loket_contracts.envelope import CloudEvent, make_event
from loket_messaging import Handler, Outgoing
from loket_messaging.db import unit_of_work
from loket_vouchers.adapters import repository as repo
from loket_vouchers.adapters.tables import CallBudgetRow
from loket_vouchers.domain.scheme import PILOT_2026
from loket_vouchers.entrypoints import handlers as h
from sqlalchemy import Engine

CALL = "LOKET-2026-01"


def apply(engine: Engine, handler: Handler, event: CloudEvent) -> Sequence[Outgoing]:
    with unit_of_work(engine) as session:
        return handler(session, event)


def screening(
    app_id: str,
    value: int,
    undertaking: str = "PT-1",
    linked: list[str] | None = None,
    prior: int = 0,
) -> CloudEvent:
    cmd = m.ScreeningRequested(
        application_id=app_id,
        undertaking_id=undertaking,
        linked_undertakings=linked or [],
        declared_prior_aid=[m.DeclaredAid(granted_on=date(2025, 1, 1), amount_eur=Decimal(prior))]
        if prior
        else [],
        call_id=CALL,
        priority_area="quantum",
        market_value_eur=Decimal(value),
        applicant_payment_eur=Decimal(0),
        as_of=date(2026, 11, 28),
    )
    return make_event(source="test", type_=m.SCREENING_REQUESTED, body=cmd, correlation_id=app_id)


def ref(type_: str, app_id: str) -> CloudEvent:
    return make_event(source="test", type_=type_, body=m.VoucherRef(application_id=app_id))


def budget(engine: Engine) -> CallBudgetRow:
    with unit_of_work(engine) as session:
        row = session.get(CallBudgetRow, (CALL, "quantum"))
        assert row is not None
        return row


def seed(engine: Engine) -> None:
    with unit_of_work(engine) as session:
        repo.seed_budgets(session, PILOT_2026)


def test_single_undertaking_shares_one_de_minimis_ledger(engine: Engine) -> None:
    seed(engine)
    [first] = apply(engine, h.on_screening_requested, screening("a1", 200_000, "PT-PARENT"))
    assert first.event.type == m.AID_RESERVED
    # A company linked to the first one: its €150,000 would take the group past €300,000.
    [second] = apply(
        engine, h.on_screening_requested, screening("a2", 150_000, "PT-CHILD", linked=["PT-PARENT"])
    )
    refused = second.event.decode(m.ScreeningRefused)
    assert refused.code == "de_minimis_headroom_exhausted"
    assert "€100,000.00" in refused.reason  # the headroom left, stated
    assert budget(engine).reserved_eur == Decimal(200_000)


def test_release_gives_headroom_and_budget_back(engine: Engine) -> None:
    seed(engine)
    apply(engine, h.on_screening_requested, screening("a1", 9_000, prior=290_000))
    [released] = apply(engine, h.on_release_requested, ref(m.RESERVATION_RELEASE_REQUESTED, "a1"))
    assert released.event.decode(m.ReservationReleased).released_eur == Decimal(9_000)
    assert budget(engine).reserved_eur == 0
    [again] = apply(engine, h.on_screening_requested, screening("a2", 9_000, prior=290_000))
    assert again.event.type == m.AID_RESERVED


def test_issuance_moves_reserved_to_granted_once(engine: Engine) -> None:
    seed(engine)
    apply(engine, h.on_screening_requested, screening("a1", 12_000))
    [issued] = apply(engine, h.on_issue_requested, ref(m.ISSUE_REQUESTED, "a1"))
    [twice] = apply(engine, h.on_issue_requested, ref(m.ISSUE_REQUESTED, "a1"))
    assert issued.event.data == twice.event.data
    row = budget(engine)
    assert (row.reserved_eur, row.granted_eur) == (0, Decimal(12_000))
    # A granted voucher is not released by a late compensation.
    [noop] = apply(engine, h.on_release_requested, ref(m.RESERVATION_RELEASE_REQUESTED, "a1"))
    assert noop.event.decode(m.ReservationReleased).released_eur == 0


def test_budget_is_never_exceeded(engine: Engine) -> None:
    seed(engine)
    total = budget(engine).total_eur  # €1,000,000 for quantum in pilot-2026
    outcomes = [
        apply(engine, h.on_screening_requested, screening(f"b{i}", 280_000, undertaking=f"U{i}"))[
            0
        ].event.type
        for i in range(5)
    ]
    assert outcomes.count(m.AID_RESERVED) == int(total // 280_000)
    assert budget(engine).reserved_eur <= total
