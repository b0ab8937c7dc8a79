"""Vouchers handlers on SQLite and PostgreSQL: single-undertaking ledgers, GBER Art. 28,
budget reservation, issuance, release, expiry, queries and registers."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from loket_contracts import messages as m
from loket_messaging.db import unit_of_work
from loket_messaging.handlers import invoke
from loket_vouchers.adapters import repository as repo
from loket_vouchers.adapters.tables import AidRow
from sqlalchemy import Engine

from tests.integration.services.vouchers_events import (
    AS_OF,
    CALL,
    QUERIES,
    apply,
    budget,
    handlers,
    prior,
    query,
    ref,
    screening,
)


def test_single_undertaking_shares_one_de_minimis_ledger(engine: Engine) -> None:
    h = handlers(engine)
    [first] = apply(engine, h.on_screening_requested, screening("a1", 200_000, "PT-PARENT"))
    assert first.event.decode(m.AidReserved).instrument == "de_minimis"
    # A company linked to the first one: its €150,000 takes the group past €300,000, so the
    # whole amount moves to GBER Art. 28 (de minimis is never used in part).
    [second] = apply(
        engine, h.on_screening_requested, screening("a2", 150_000, "PT-CHILD", linked=["PT-PARENT"])
    )
    reserved = second.event.decode(m.AidReserved)
    assert reserved.instrument == "gber_art28" and reserved.intensity == 1
    assert "€100,000.00" in reserved.reason  # the de minimis headroom left, stated
    assert budget(engine).reserved_eur == Decimal(350_000)


def test_art_28_cap_used_up_means_50_percent_and_co_payment(engine: Engine) -> None:
    h = handlers(engine)
    [out] = apply(
        engine,
        h.on_screening_requested,
        screening("a1", 30_000, prior=prior(295_000) + prior(215_000, "gber_art28")),
    )
    reserved = out.event.decode(m.AidReserved)
    assert (reserved.instrument, reserved.intensity) == ("gber_art28", Decimal("0.5"))
    assert (reserved.voucher_eur, reserved.co_payment_eur) == (Decimal(15_000), Decimal(15_000))


def test_large_enterprise_without_de_minimis_room_goes_to_manual_review(engine: Engine) -> None:
    h = handlers(engine)
    [out] = apply(
        engine, h.on_screening_requested, screening("a1", 30_000, prior=prior(290_000), sme=False)
    )
    refused = out.event.decode(m.ScreeningRefused)
    assert refused.code == "manual_review"
    assert budget(engine).reserved_eur == 0  # nothing reserved for a case a human decides


def test_release_gives_headroom_and_budget_back(engine: Engine) -> None:
    h = handlers(engine)
    apply(engine, h.on_screening_requested, screening("a1", 9_000, prior=prior(290_000)))
    [released] = apply(engine, h.on_release_requested, ref(m.RESERVATION_RELEASE_REQUESTED, "a1"))
    assert released.event.decode(m.ReservationReleased).released_eur == Decimal(9_000)
    assert budget(engine).reserved_eur == 0
    [again] = apply(engine, h.on_screening_requested, screening("a2", 9_000, prior=prior(290_000)))
    assert again.event.decode(m.AidReserved).instrument == "de_minimis"


def test_expired_reservation_gives_headroom_and_budget_back(engine: Engine) -> None:
    h = handlers(engine)
    apply(engine, h.on_screening_requested, screening("a1", 9_000, prior=prior(290_000)))
    with unit_of_work(engine) as session:
        row = session.get(AidRow, "a1")
        assert row is not None
        row.hold_expires_at = datetime.now(UTC) - timedelta(seconds=1)
    with unit_of_work(engine) as session:
        [expired] = h.expire_holds(session)
    assert expired.event.decode(m.ReservationReleased).reason == "reservation expired"
    assert budget(engine).reserved_eur == 0
    [late] = apply(engine, h.on_screening_requested, screening("a2", 9_000, prior=prior(290_000)))
    assert late.event.decode(m.AidReserved).instrument == "de_minimis"


def test_issuance_moves_reserved_to_granted_once(engine: Engine) -> None:
    h = handlers(engine)
    apply(engine, h.on_screening_requested, screening("a1", 12_000))
    [issued] = apply(engine, h.on_issue_requested, ref(m.ISSUE_REQUESTED, "a1"))
    [twice] = apply(engine, h.on_issue_requested, ref(m.ISSUE_REQUESTED, "a1"))
    assert issued.event.data == twice.event.data
    row = budget(engine)
    assert (row.reserved_eur, row.granted_eur) == (0, Decimal(12_000))
    [noop] = apply(engine, h.on_release_requested, ref(m.RESERVATION_RELEASE_REQUESTED, "a1"))
    assert noop.event.decode(m.ReservationReleased).released_eur == 0


def test_aid_granted_after_the_screenings_day_still_counts(engine: Engine) -> None:
    """A screening asked for yesterday (the date turned on its way) is decided after a grant
    dated today: that grant exists, so it counts against the ceiling (found by the ledger
    property test across midnight)."""
    h = handlers(engine)
    apply(engine, h.on_screening_requested, screening("a1", 110_000, prior=prior(150_000)))
    apply(engine, h.on_issue_requested, ref(m.ISSUE_REQUESTED, "a1"))
    with unit_of_work(engine) as session:  # issued on a later day than the next one asks
        row = session.get(AidRow, "a1")
        assert row is not None
        row.grant_date = AS_OF + timedelta(days=1)
    [late] = apply(engine, h.on_screening_requested, screening("a2", 41_000, prior=prior(150_000)))
    assert late.event.type == m.SCREENING_REFUSED or (
        late.event.decode(m.AidReserved).instrument != "de_minimis"
    )


def test_budget_is_never_exceeded(engine: Engine) -> None:
    h = handlers(engine)
    total = budget(engine).total_eur  # €1,000,000 for quantum in pilot-2026
    outcomes = [
        apply(engine, h.on_screening_requested, screening(f"b{i}", 280_000, undertaking=f"U{i}"))[
            0
        ].event.type
        for i in range(5)
    ]
    assert outcomes.count(m.AID_RESERVED) == int(total // 280_000)
    assert budget(engine).reserved_eur <= total


def test_headroom_over_time_and_budget_position_queries(engine: Engine) -> None:
    h = handlers(engine)
    apply(
        engine,
        h.on_screening_requested,
        screening(
            "a1",
            50_000,
            "PT-Q",
            prior=[m.DeclaredAid(granted_on=date(2024, 1, 10), amount_eur=Decimal(100_000))],
        ),
    )
    q = query(
        m.HEADROOM_QUERY,
        m.HeadroomQuery(
            undertaking_id="PT-Q",
            from_date=date(2026, 11, 28),
            to_date=date(2027, 1, 27),
            step_days=30,
        ),
    )
    [answer] = apply(engine, QUERIES.on_headroom_query, q)
    assert answer.event.correlation_id == q.id  # how the gateway finds its answer
    points = answer.event.decode(m.HeadroomReply).points
    assert [p.de_minimis_used_eur for p in points] == [Decimal(150_000)] * 2 + [Decimal(50_000)]
    assert points[-1].de_minimis_headroom_eur == Decimal(250_000)  # the 2024 aid left the window
    [position] = apply(
        engine, QUERIES.on_budget_query, query(m.BUDGET_QUERY, m.BudgetQuery(call_id=CALL))
    )
    quantum = next(
        a for a in position.event.decode(m.BudgetReply).areas if a.priority_area == "quantum"
    )
    assert (quantum.reserved_eur, quantum.available_eur) == (Decimal(50_000), Decimal(950_000))


def test_transparency_register_lists_gber_awards_over_100k(engine: Engine) -> None:
    h = handlers(engine)
    for app, value in (("big", 120_000), ("small", 90_000)):
        apply(
            engine,
            h.on_screening_requested,
            screening(app, value, f"U-{app}", prior=prior(300_000)),
        )
        apply(engine, h.on_issue_requested, ref(m.ISSUE_REQUESTED, app))
    apply(engine, h.on_screening_requested, screening("dm", 20_000, "U-dm"))
    apply(engine, h.on_issue_requested, ref(m.ISSUE_REQUESTED, "dm"))
    [gber] = apply(
        engine,
        QUERIES.on_register_query,
        query(m.REGISTER_QUERY, m.RegisterQuery(register_id="gber_transparency")),
    )
    assert [r.application_id for r in gber.event.decode(m.RegisterReply).rows] == ["big"]
    [dmr] = apply(
        engine,
        QUERIES.on_register_query,
        query(m.REGISTER_QUERY, m.RegisterQuery(register_id="de_minimis")),
    )
    rows = dmr.event.decode(m.RegisterReply).rows
    assert [(r.application_id, r.aid_eur) for r in rows] == [("dm", Decimal(20_000))]
    assert rows[0].voucher_id and rows[0].legal_source.startswith("Regulation (EU) 2023/2831")


def test_simultaneous_screenings_of_one_undertaking_cannot_overshoot(engine: Engine) -> None:
    """20 transactions start together for one single undertaking; the row lock (PostgreSQL) or
    BEGIN IMMEDIATE (SQLite) serialises them, so de minimis stops at the ceiling."""
    h = handlers(engine)
    start = threading.Barrier(20)
    results: list[str] = []

    def one(i: int) -> None:
        event = screening(f"c{i}", 40_000, "PT-RACE")
        with unit_of_work(engine) as session:
            start.wait()  # everybody inside a transaction, then go
            [out] = invoke(h.on_screening_requested, session, event)
        results.append(out.event.decode(m.AidReserved).instrument)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 20
    assert results.count("de_minimis") == 7  # 7 × €40,000 ≤ €300,000 < 8 × €40,000
    assert results.count("gber_art28") == 13
    with unit_of_work(engine) as session:
        entries = repo.ledger(session, ["PT-RACE"], [])
    assert sum(e.amount_eur for e in entries if e.instrument == "de_minimis") == Decimal(280_000)
