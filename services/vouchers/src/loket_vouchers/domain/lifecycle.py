"""An application's aid, from reservation to a closed voucher: the states and the moves
between them. No I/O: the handlers load a record, act here, and save it.

    reserved ──grant──▶ granted (voucher active) ──close──▶ granted / lapsed (voucher closed)
       │ release / expire
       ▼
    released / expired
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from loket_vouchers.domain.redemption import Closure, close_voucher, redemption_amount


class AidStatus(StrEnum):
    RESERVED = "reserved"  # headroom and budget held until the grant or the hold's expiry
    GRANTED = "granted"  # the voucher was issued: the aid is on the ledger
    RELEASED = "released"  # compensation gave it back
    EXPIRED = "expired"  # the hold ran out
    LAPSED = "lapsed"  # the voucher closed unused: no aid to register


class VoucherState(StrEnum):
    NONE = ""  # not issued
    ACTIVE = "active"
    CLOSED = "closed"


HELD = (AidStatus.RESERVED, AidStatus.GRANTED)  # what a repeated screening answers from


class NotAllowed(ValueError):
    """The move is not possible from the record's state (the reason says why)."""


class AidRecord(Protocol):
    """What the lifecycle reads and writes of one application's aid."""

    application_id: str
    status: str
    voucher_state: str
    voucher_id: str | None
    aid_element_eur: Decimal
    aid_at_issue_eur: Decimal | None
    market_value_eur: Decimal
    redeemed_market_eur: Decimal
    redeemed_eur: Decimal
    hold_expires_at: datetime | None
    grant_date: date
    closed_reason: str | None

    @property
    def granted_eur(self) -> Decimal: ...


@dataclass
class AidReservation:
    """Aid reserved for an application: granted at issuance, or given back."""

    record: AidRecord

    @property
    def reserved(self) -> bool:
        return self.record.status == AidStatus.RESERVED

    def check_issuable(self) -> None:
        if self.record.status not in HELD:
            raise NotAllowed(
                f"no reservation to issue a voucher from for {self.record.application_id} "
                f"(reservation {self.record.status})"
            )

    def grant(self, voucher_id: str, today: date) -> Voucher:
        """De minimis aid is granted when the legal right is conferred: at issuance."""
        r = self.record
        r.status, r.grant_date, r.hold_expires_at = AidStatus.GRANTED, today, None
        r.voucher_id, r.aid_at_issue_eur = voucher_id, r.aid_element_eur
        r.voucher_state = VoucherState.ACTIVE
        return Voucher(r)

    def give_back(self, why: AidStatus) -> Decimal:
        """Released or expired: what goes back to the call budget."""
        assert why in (AidStatus.RELEASED, AidStatus.EXPIRED), why
        self.record.status, self.record.hold_expires_at = why, None
        return self.record.aid_element_eur


@dataclass
class Voucher:
    """An issued voucher: it pays deliveries, then closes with the aid corrected."""

    record: AidRecord

    def _check(self, *states: VoucherState, doing: str) -> None:
        if self.record.voucher_state not in states:
            state = self.record.voucher_state or "not issued"
            raise NotAllowed(f"cannot {doing} for {self.record.application_id}: voucher {state}")

    def redeem(self, market_value_eur: Decimal) -> Decimal:
        """What the voucher pays for one delivery worth `market_value_eur` at market."""
        self._check(VoucherState.ACTIVE, doing="redeem a delivery")
        r = self.record
        amount = redemption_amount(
            r.granted_eur,
            r.market_value_eur,
            r.redeemed_market_eur,
            r.redeemed_eur,
            market_value_eur,
        )
        r.redeemed_market_eur += market_value_eur
        r.redeemed_eur += amount
        return amount

    def close(self, aid_follows_use: bool, why: str) -> Closure | None:
        """The unused value goes back (when the scheme says aid follows use); None when the
        voucher was closed before (a repeated command)."""
        self._check(VoucherState.ACTIVE, VoucherState.CLOSED, doing="close the voucher")
        r = self.record
        if r.voucher_state == VoucherState.CLOSED:
            return None
        closure = close_voucher(r.granted_eur, r.redeemed_eur, aid_follows_use, why)
        r.aid_element_eur = closure.aid_recorded_eur
        r.voucher_state, r.closed_reason = VoucherState.CLOSED, closure.reason
        if closure.aid_recorded_eur == 0:
            r.status = AidStatus.LAPSED
        return closure
