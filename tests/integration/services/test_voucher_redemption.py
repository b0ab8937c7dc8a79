"""A voucher paid out per delivery and closed: the aid on the registers is what was used."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from loket_contracts import messages as m
from loket_messaging.failures import Rejected
from sqlalchemy import Engine

from tests.integration.services.vouchers_events import (
    QUERIES,
    apply,
    budget,
    close,
    handlers,
    query,
    redeem,
    ref,
    screening,
)


def test_a_voucher_half_used_at_expiry_records_the_aid_used_and_frees_the_rest(
    engine: Engine,
) -> None:
    h = handlers(engine)
    apply(engine, h.on_screening_requested, screening("a1", 12_000, undertaking="PT-9"))
    apply(engine, h.on_issue_requested, ref(m.ISSUE_REQUESTED, "a1"))
    [paid] = apply(engine, h.on_redeem_requested, redeem("a1", "f/1", 3_000))
    [again] = apply(engine, h.on_redeem_requested, redeem("a1", "f/1", 3_000))  # same report
    assert paid.event.data == again.event.data
    redeemed = paid.event.decode(m.VoucherRedeemed)
    assert (redeemed.redeemed_total_eur, redeemed.remaining_eur) == (3_000, 9_000)

    [closed] = apply(engine, h.on_close_requested, close("a1", "expired on 2027-11-28"))
    body = closed.event.decode(m.VoucherClosed)
    assert (body.aid_recorded_eur, body.released_eur) == (Decimal(3_000), Decimal(9_000))
    assert "R&D&I Framework" in body.legal_source
    assert budget(engine).granted_eur == Decimal(3_000)
    # the single undertaking's ledger now counts €3,000, not €12,000
    today = datetime.now(UTC).date()  # the grant is dated at issuance
    [reply] = apply(
        engine,
        QUERIES.on_headroom_query,
        query(
            m.HEADROOM_QUERY, m.HeadroomQuery(undertaking_id="PT-9", from_date=today, to_date=today)
        ),
    )
    assert reply.event.decode(m.HeadroomReply).points[0].de_minimis_used_eur == 3_000
    with pytest.raises(Rejected, match="voucher closed"):  # a closed voucher pays nothing
        apply(engine, h.on_redeem_requested, redeem("a1", "f/2", 3_000))
    [twice] = apply(engine, h.on_close_requested, close("a1", "expired"))
    assert twice.event.decode(m.VoucherClosed).released_eur == Decimal(9_000)
    assert budget(engine).granted_eur == Decimal(3_000)  # closing again changes nothing


def test_an_unused_voucher_leaves_no_aid_on_the_registers(engine: Engine) -> None:
    h = handlers(engine)
    apply(engine, h.on_screening_requested, screening("a1", 12_000))
    apply(engine, h.on_issue_requested, ref(m.ISSUE_REQUESTED, "a1"))
    apply(engine, h.on_close_requested, close("a1", "cancelled"))
    [reply] = apply(
        engine,
        QUERIES.on_register_query,
        query(m.REGISTER_QUERY, m.RegisterQuery(register_id="de_minimis")),
    )
    assert [r.application_id for r in reply.event.decode(m.RegisterReply).rows] == []
    assert budget(engine).granted_eur == 0
