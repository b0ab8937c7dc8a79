"""An application's aid from reservation to a closed voucher, without a database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pytest
from loket_vouchers.domain.lifecycle import (
    AidReservation,
    AidStatus,
    NotAllowed,
    Voucher,
    VoucherState,
)
from loket_vouchers.domain.redemption import RedemptionRefused


@dataclass
class Record:
    application_id: str = "app-1"
    status: str = AidStatus.RESERVED
    voucher_state: str = VoucherState.NONE
    voucher_id: str | None = None
    aid_element_eur: Decimal = Decimal(6000)
    aid_at_issue_eur: Decimal | None = None
    market_value_eur: Decimal = Decimal(6000)
    redeemed_market_eur: Decimal = Decimal(0)
    redeemed_eur: Decimal = Decimal(0)
    hold_expires_at: datetime | None = datetime(2027, 1, 1)
    grant_date: date = date(2026, 12, 1)
    closed_reason: str | None = None

    @property
    def granted_eur(self) -> Decimal:
        return self.aid_at_issue_eur if self.aid_at_issue_eur is not None else self.aid_element_eur


def test_a_reservation_is_not_a_voucher_yet() -> None:
    record = Record()
    with pytest.raises(NotAllowed, match="voucher not issued"):
        Voucher(record).redeem(Decimal(3000))
    with pytest.raises(NotAllowed, match="voucher not issued"):
        Voucher(record).close(True, "expired")


def test_granted_then_half_used_then_closed_gives_the_rest_back() -> None:
    record = Record()
    voucher = AidReservation(record).grant("V-1", date(2026, 12, 20))
    assert (record.status, record.voucher_state) == (AidStatus.GRANTED, VoucherState.ACTIVE)
    assert record.hold_expires_at is None and record.grant_date == date(2026, 12, 20)
    assert voucher.redeem(Decimal(3000)) == Decimal(3000)
    with pytest.raises(RedemptionRefused):  # more access than the voucher covers
        voucher.redeem(Decimal(3001))
    closure = voucher.close(True, "expired")
    assert closure is not None and closure.released_eur == Decimal(3000)
    assert record.aid_element_eur == Decimal(3000) and record.status == AidStatus.GRANTED
    assert voucher.close(True, "expired") is None  # a repeated close changes nothing
    with pytest.raises(NotAllowed, match="voucher closed"):
        voucher.redeem(Decimal(1))


def test_a_voucher_closed_unused_lapses() -> None:
    record = Record()
    AidReservation(record).grant("V-1", date(2026, 12, 20)).close(True, "cancelled")
    assert record.status == AidStatus.LAPSED and record.aid_element_eur == 0


def test_only_a_held_reservation_can_be_issued() -> None:
    record = Record()
    assert AidReservation(record).give_back(AidStatus.EXPIRED) == Decimal(6000)
    with pytest.raises(NotAllowed, match="reservation expired"):
        AidReservation(record).check_issuable()
