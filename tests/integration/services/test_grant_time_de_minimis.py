"""De minimis checked again at the grant (pilot-2026-r2; Reg. (EU) 2023/2831 Art. 3(3): granted
when the legal right is conferred, here at issuance), on SQLite and PostgreSQL.

Two applications of one undertaking are screened into de minimis (€100,000 each, €200,000 of
€300,000). Then a third application declares €150,000 of de minimis aid granted meanwhile.
Both are accepted; whichever is issued first still fits (€250,000), the second no longer does
and is screened again into GBER Art. 28 (a new agreement), in either order, and also when both
issuances run at the same moment. The ledger never passes the ceiling."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from loket_contracts import messages as m
from loket_contracts.envelope import CloudEvent, make_event
from loket_contracts.scheme import load_scheme
from loket_messaging.clock import utcnow
from loket_messaging.db import unit_of_work
from loket_vouchers.adapters import repository as repo
from loket_vouchers.adapters.tables import AidRow
from loket_vouchers.entrypoints.handlers import VoucherHandlers
from sqlalchemy import Engine

from .test_vouchers_handlers import CALL, apply, budget, ref

R2 = load_scheme("pilot-2026-r2")
UNDERTAKING = "PT-9"


def screening(
    app_id: str, value: int, version: str | None = "pilot-2026-r2", **more: Any
) -> CloudEvent:
    cmd = m.ScreeningRequested(
        application_id=app_id,
        undertaking_id=UNDERTAKING,
        call_id=CALL,
        priority_area="quantum",
        market_value_eur=Decimal(value),
        applicant_payment_eur=Decimal(0),
        as_of=utcnow().date(),
        scheme_version=version,
        **more,
    )
    return make_event(source="test", type_=m.SCREENING_REQUESTED, body=cmd, correlation_id=app_id)


def meanwhile(amount: int) -> list[m.DeclaredAid]:
    """De minimis aid the undertaking received after the first two were screened."""
    return [m.DeclaredAid(granted_on=utcnow().date(), amount_eur=Decimal(amount))]


def prepared(engine: Engine, version: str | None = "pilot-2026-r2", **more: Any) -> VoucherHandlers:
    with unit_of_work(engine) as session:
        repo.seed_budgets(session, R2)
    h = VoucherHandlers(load_scheme("pilot-2026"))  # bound to the first version, like a service
    for app_id in ("a", "b"):
        [out] = apply(engine, h.on_screening_requested, screening(app_id, 100_000, version, **more))
        assert out.event.decode(m.AidReserved).instrument == "de_minimis"
    [c] = apply(
        engine,
        h.on_screening_requested,
        screening("c", 10_000, version, declared_prior_aid=meanwhile(150_000)),
    )
    assert (
        c.event.type == m.AID_RESERVED and c.event.decode(m.AidReserved).instrument == "gber_art28"
    )
    return h


def granted_de_minimis(engine: Engine) -> Decimal:
    with unit_of_work(engine) as session:
        ledger = repo.ledger(
            session, [UNDERTAKING], repo.declared_aid(session, [UNDERTAKING]), statuses=("granted",)
        )
    return sum((e.amount_eur for e in ledger if e.instrument == "de_minimis"), Decimal(0))


@pytest.mark.parametrize("order", [("a", "b"), ("b", "a")])
def test_the_second_issued_is_screened_again_in_either_order(
    engine: Engine, order: tuple[str, str]
) -> None:
    h = prepared(engine)
    first, second = order
    [issued] = apply(engine, h.on_issue_requested, ref(m.ISSUE_REQUESTED, first))
    assert issued.event.type == m.VOUCHER_ISSUED
    assert issued.event.decode(m.VoucherIssued).instrument == "de_minimis"
    reserved_before = budget(engine).reserved_eur
    [again] = apply(engine, h.on_issue_requested, ref(m.ISSUE_REQUESTED, second))
    assert again.event.type == m.AID_RESCREENED
    aid = again.event.decode(m.AidReserved)
    assert aid.instrument == "gber_art28" and aid.voucher_eur == Decimal(100_000)
    assert "no longer fits" in aid.reason and "GBER Art. 28" in aid.reason
    assert granted_de_minimis(engine) == Decimal(250_000)  # €100,000 + €150,000 ≤ €300,000
    assert budget(engine).reserved_eur == reserved_before  # the same amount, new instrument
    # After the new agreement is accepted, issuance goes through as Art. 28.
    [done] = apply(engine, h.on_issue_requested, ref(m.ISSUE_REQUESTED, second))
    assert done.event.decode(m.VoucherIssued).instrument == "gber_art28"
    assert granted_de_minimis(engine) == Decimal(250_000)


def test_two_issuances_at_the_same_moment_never_pass_the_ceiling(engine: Engine) -> None:
    h = prepared(engine)
    results: dict[str, str] = {}
    start = threading.Barrier(2)

    def issue(app_id: str) -> None:
        start.wait()
        [out] = apply(engine, h.on_issue_requested, ref(m.ISSUE_REQUESTED, app_id))
        results[app_id] = out.event.type

    threads = [threading.Thread(target=issue, args=(a,)) for a in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results.values()) == sorted([m.VOUCHER_ISSUED, m.AID_RESCREENED])
    assert granted_de_minimis(engine) == Decimal(250_000)


def test_in_difficulty_no_instrument_is_left_so_it_is_refused(engine: Engine) -> None:
    h = prepared(engine, excluded_instruments=["gber_art28"])
    apply(engine, h.on_issue_requested, ref(m.ISSUE_REQUESTED, "a"))
    [refused] = apply(engine, h.on_issue_requested, ref(m.ISSUE_REQUESTED, "b"))
    body = refused.event.decode(m.ScreeningRefused)
    assert refused.event.type == m.SCREENING_REFUSED
    assert body.code == "de_minimis_headroom_exhausted" and "Art. 1(4)(c)" in body.reason
    with unit_of_work(engine) as session:
        row = session.get(AidRow, "b")
        assert row is not None and row.status == "reserved"  # the workflow releases it


def test_applications_of_pilot_2026_are_issued_as_before(engine: Engine) -> None:
    """Running applications keep the version they started under: no check at the grant."""
    h = prepared(engine, None)
    for app_id in ("a", "b"):
        [out] = apply(engine, h.on_issue_requested, ref(m.ISSUE_REQUESTED, app_id))
        assert out.event.type == m.VOUCHER_ISSUED
