"""The de minimis ceiling checked again at the grant (pilot-2026-r2 on).

De minimis aid is granted when the legal right to it is conferred (Reg. (EU) 2023/2831
Art. 3(3)): here at issuance, after acceptance, possibly weeks after the screening. Aid
granted to the single undertaking meanwhile (another application issued first, aid declared
since) may have used the headroom. Then the aid is screened again with everything known now:
GBER Art. 28 (at 100 %, or 50 % with a co-payment) needs a new agreement; no instrument left
refuses with the reason. Never an overrun: the single undertaking stays locked throughout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from loket_contracts.scheme import Scheme
from loket_messaging.clock import utcnow
from sqlmodel import Session

from loket_vouchers.adapters import repository as repo
from loket_vouchers.adapters.tables import AidRow
from loket_vouchers.domain.lifecycle import AidStatus
from loket_vouchers.domain.state_aid import fits_at_grant, screen


@dataclass(frozen=True)
class Recheck:
    outcome: Literal["fits", "switched", "refused"]
    reason: str


def recheck(session: Session, row: AidRow, scheme: Scheme) -> Recheck:
    group = json.loads(row.single_undertaking_json or "null") or [row.undertaking_id]
    repo.lock_single_undertaking(session, group)
    declared = repo.declared_aid(session, group)
    today = utcnow().date()
    granted = repo.ledger(
        session, group, declared, statuses=(AidStatus.GRANTED,), besides=row.application_id
    )
    check = fits_at_grant(row.aid_element_eur, granted, today, scheme)
    if check.fits:
        row.reason = f"{row.reason}; {check.reason}"
        return Recheck("fits", check.reason)
    # Everything known now, reservations of the undertaking's other applications included.
    known = repo.ledger(session, group, declared, besides=row.application_id)
    payment = row.market_value_eur - row.aid_element_eur  # what the applicant pays anyway
    result = screen(
        row.market_value_eur,
        payment,
        known,
        today,
        row.sme is not False,
        scheme,
        frozenset(json.loads(row.excluded_json or "[]")),
    )
    reason = f"{check.reason}; {result.reason}"
    if result.instrument != "gber_art28":
        return Recheck("refused", reason)
    # The budget follows the new voucher, which is never more than the old one.
    repo.move_budget(session, row.call_id, row.priority_area, row.aid_element_eur, grant=False)
    if not repo.reserve_budget(session, row.call_id, row.priority_area, result.aid_element_eur):
        raise RuntimeError(f"{row.application_id}: the freed budget could not be reserved again")
    row.instrument = result.instrument
    row.intensity = result.intensity
    row.aid_element_eur = result.aid_element_eur
    row.co_payment_eur = result.co_payment_eur
    row.de_minimis_headroom_after_eur = result.de_minimis_headroom_after_eur
    row.legal_source = result.legal_source
    row.reason = reason
    row.grant_date = today
    session.add(row)
    return Recheck("switched", reason)
