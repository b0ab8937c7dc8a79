"""Paying deliveries from a voucher, and what a voucher that ends leaves on the ledger.

Plain functions, no I/O. The voucher pays its share of each delivery's market value: a voucher
worth the whole aid element of a bundle pays that element in proportion to the access received,
rounded on the running total so the cents add up to the voucher exactly when all is delivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


class RedemptionRefused(ValueError):
    pass


def redemption_amount(
    voucher_eur: Decimal,
    market_value_total_eur: Decimal,
    market_redeemed_before_eur: Decimal,
    redeemed_before_eur: Decimal,
    delivered_market_value_eur: Decimal,
) -> Decimal:
    """What the voucher pays for one delivery worth `delivered_market_value_eur` at market."""
    market_after = market_redeemed_before_eur + delivered_market_value_eur
    if market_after > market_value_total_eur:
        raise RedemptionRefused(
            f"deliveries worth €{market_after:,.2f} exceed the €{market_value_total_eur:,.2f} "
            "of access the voucher covers"
        )
    if market_value_total_eur == 0:
        return Decimal(0)
    paid_after = (voucher_eur * market_after / market_value_total_eur).quantize(
        CENT, rounding=ROUND_HALF_UP
    )
    return paid_after - redeemed_before_eur


@dataclass(frozen=True)
class Closure:
    aid_recorded_eur: Decimal  # stays on the single undertaking's ledger
    released_eur: Decimal  # back to the call budget
    reason: str


def close_voucher(
    aid_granted_eur: Decimal, redeemed_eur: Decimal, aid_follows_use: bool, why: str
) -> Closure:
    """A voucher ends with `aid_granted_eur - redeemed_eur` unused."""
    unused = aid_granted_eur - redeemed_eur
    if not aid_follows_use:
        return Closure(
            aid_recorded_eur=aid_granted_eur,
            released_eur=Decimal(0),
            reason=f"voucher {why}: €{unused:,.2f} unused; the scheme keeps the aid granted at "
            f"issuance (€{aid_granted_eur:,.2f}) on the ledger",
        )
    return Closure(
        aid_recorded_eur=redeemed_eur,
        released_eur=unused,
        reason=f"voucher {why}: €{redeemed_eur:,.2f} used, €{unused:,.2f} unused goes back to "
        f"the call budget and the aid recorded becomes €{redeemed_eur:,.2f}",
    )
