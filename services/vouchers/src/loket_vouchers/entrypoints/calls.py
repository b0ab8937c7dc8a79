"""Calls as the programme opens and amends them (the gateway owns them): their budgets.

A budget may be lowered below what is already reserved and granted: nothing committed is
taken back, the area simply has nothing available until money comes back.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from loket_contracts.calls import CallChanged
from loket_contracts.envelope import CloudEvent, EnvelopeError
from loket_messaging import Outgoing
from sqlmodel import Session

from loket_vouchers.adapters.tables import CallBudgetRow, CallVersionRow

CALLS_SOURCE = "loket/gateway"


def only_the_gateway(headers: dict[str, str], event: CloudEvent) -> None:
    """Budgets come from the programme's calls, written by the gateway alone (the ACLs say
    so on the broker; this holds on an open broker too)."""
    if event.source != CALLS_SOURCE:
        raise EnvelopeError(f"calls come from {CALLS_SOURCE}, not {event.source!r}")


def on_call_changed(session: Session, event: CloudEvent) -> Sequence[Outgoing]:
    changed = event.decode(CallChanged)
    seen = session.get(CallVersionRow, changed.call_id, with_for_update=True)
    if seen is not None and seen.version >= changed.version:
        return []  # an older version, arriving late: the newer one stands
    for area, total in changed.budgets.items():
        row = session.get(CallBudgetRow, (changed.call_id, area))
        if row is None:
            row = CallBudgetRow(
                call_id=changed.call_id,
                priority_area=area,
                total_eur=total,
                reserved_eur=Decimal(0),
                granted_eur=Decimal(0),
            )
        row.total_eur = total
        session.add(row)
    seen = seen or CallVersionRow(call_id=changed.call_id, version=0, status="open")
    seen.version, seen.status = changed.version, changed.status
    session.add(seen)
    return []
