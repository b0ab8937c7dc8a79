"""Ledger and budget writes, safe under concurrency.

Budgets use an atomic conditional UPDATE (`... WHERE total - reserved - granted >= amount`):
one statement, so two reservations can never both see the same free money. The de minimis
ledger is a read-check-write across rows, so the single undertaking's rows are locked first
(`SELECT ... FOR UPDATE` on PostgreSQL; SQLite takes the database write lock at BEGIN IMMEDIATE).
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from loket_contracts.messages import DeclaredAid, ScreeningRequested
from loket_contracts.scheme import Scheme
from loket_messaging.clock import utcnow
from loket_messaging.db import insert_new
from sqlalchemy import Table, bindparam, select, update
from sqlmodel import Session, col

from loket_vouchers.adapters.tables import AidRow, CallBudgetRow, DeclaredAidRow, UndertakingRow
from loket_vouchers.domain.lifecycle import HELD, AidStatus
from loket_vouchers.domain.state_aid import LedgerEntry, Screening

UNDERTAKINGS: Table = UndertakingRow.__table__  # type: ignore[attr-defined]
_BUDGET: Table = CallBudgetRow.__table__  # type: ignore[attr-defined]
# The budget statements, built once and run with parameters (every screening and grant runs
# one; building it each time, through the ORM, cost more than running it).
_AMOUNT = bindparam("amount", type_=_BUDGET.c.reserved_eur.type)
_AREA_BUDGET = update(_BUDGET).where(
    _BUDGET.c.call_id == bindparam("call"), _BUDGET.c.priority_area == bindparam("area")
)
_RESERVE = _AREA_BUDGET.where(
    _BUDGET.c.total_eur - _BUDGET.c.reserved_eur - _BUDGET.c.granted_eur >= _AMOUNT
).values(reserved_eur=_BUDGET.c.reserved_eur + _AMOUNT)
_RELEASE = _AREA_BUDGET.values(reserved_eur=_BUDGET.c.reserved_eur - _AMOUNT)
_GRANT = _AREA_BUDGET.values(
    reserved_eur=_BUDGET.c.reserved_eur - _AMOUNT, granted_eur=_BUDGET.c.granted_eur + _AMOUNT
)
_GIVE_BACK = _AREA_BUDGET.values(granted_eur=_BUDGET.c.granted_eur - _AMOUNT)
# The single undertaking's aid, read as the columns the ledger needs (no ORM objects).
_AID: Table = AidRow.__table__  # type: ignore[attr-defined]
_LEDGER = select(_AID.c.grant_date, _AID.c.aid_element_eur, _AID.c.instrument).where(
    _AID.c.undertaking_id.in_(bindparam("ids", expanding=True)),
    _AID.c.instrument.in_(("de_minimis", "gber_art28")),
    _AID.c.status.in_(bindparam("statuses", expanding=True)),
    _AID.c.application_id != bindparam("besides"),
)
_DECLARED_AID: Table = DeclaredAidRow.__table__  # type: ignore[attr-defined]
_DECLARED = select(
    _DECLARED_AID.c.granted_on, _DECLARED_AID.c.amount_eur, _DECLARED_AID.c.instrument
).where(_DECLARED_AID.c.undertaking_id.in_(bindparam("ids", expanding=True)))


def seed_budgets(session: Session, scheme: Scheme) -> None:
    """Budgets come from the scheme configuration; existing rows keep their positions."""
    for call_id, areas in scheme.budgets.items():
        for area, sourced in areas.items():
            total = sourced.value
            if session.get(CallBudgetRow, (call_id, area)) is None:
                session.add(
                    CallBudgetRow(
                        call_id=call_id,
                        priority_area=area,
                        total_eur=total,
                        reserved_eur=Decimal(0),
                        granted_eur=Decimal(0),
                    )
                )


def lock_single_undertaking(session: Session, undertaking_ids: list[str]) -> None:
    """Lock the single undertaking's rows, creating those that are new, in one global order
    so that two applicants sharing a member cannot deadlock. A row another transaction
    creates at the same moment is simply there (ON CONFLICT DO NOTHING: no savepoint)."""
    ids = sorted(set(undertaking_ids))
    create = insert_new(UNDERTAKINGS, "undertaking_id", session.get_bind().dialect.name)
    session.execute(create, [{"undertaking_id": uid, "version": 0} for uid in ids])
    session.execute(
        select(UndertakingRow).where(col(UndertakingRow.undertaking_id).in_(ids)).with_for_update()
    ).all()


def ledger(
    session: Session,
    undertaking_ids: list[str],
    declared: list[DeclaredAid],
    *,
    statuses: tuple[str, ...] = HELD,
    besides: str | None = None,
) -> list[LedgerEntry]:
    """The single undertaking's aid: what this scheme reserved or granted (`statuses`), plus
    declared aid; `besides`: leave that application's own row out. Read after
    `lock_single_undertaking`, whose ORM query flushed what this session changed."""
    rows = session.execute(
        _LEDGER, {"ids": undertaking_ids, "statuses": list(statuses), "besides": besides or ""}
    )
    entries = [LedgerEntry(r.grant_date, r.aid_element_eur, r.instrument) for r in rows]
    entries += [LedgerEntry(d.granted_on, d.amount_eur, d.instrument) for d in declared]
    return entries


def declared_aid(session: Session, undertaking_ids: list[str]) -> list[DeclaredAid]:
    """Aid declared with earlier applications of any member of the single undertaking."""
    rows = session.execute(_DECLARED, {"ids": undertaking_ids})
    return merge_declared(
        [
            DeclaredAid(granted_on=r.granted_on, amount_eur=r.amount_eur, instrument=r.instrument)
            for r in rows
        ]
    )


def merge_declared(*declarations: list[DeclaredAid]) -> list[DeclaredAid]:
    """One entry per declared grant (date, amount, instrument), however often it was declared."""
    unique = {
        (d.granted_on, d.amount_eur.normalize(), d.instrument): d
        for batch in declarations
        for d in batch
    }
    return [unique[k] for k in sorted(unique)]


def record_reservation(
    session: Session,
    cmd: ScreeningRequested,
    result: Screening,
    scheme_version: str,
    ttl_s: float,
    group: list[str],
) -> AidRow:
    """The screened aid, held until `ttl_s` from now, with the prior aid the applicant
    declared (it counts for every member of the single undertaking from now on)."""
    row = AidRow(
        application_id=cmd.application_id,
        undertaking_id=cmd.undertaking_id,
        call_id=cmd.call_id,
        priority_area=cmd.priority_area,
        instrument=result.instrument,
        intensity=result.intensity,
        aid_element_eur=result.aid_element_eur,
        co_payment_eur=result.co_payment_eur,
        de_minimis_headroom_after_eur=result.de_minimis_headroom_after_eur,
        status=AidStatus.RESERVED,
        hold_expires_at=utcnow() + timedelta(seconds=ttl_s),
        grant_date=cmd.as_of,
        scheme_version=scheme_version,
        legal_source=result.legal_source,
        reason=result.reason,
        market_value_eur=cmd.market_value_eur,
        single_undertaking_json=json.dumps(sorted(set(group))),
        sme=cmd.sme,
        excluded_json=json.dumps(cmd.excluded_instruments),
    )
    session.add(row)
    for declared in cmd.declared_prior_aid:
        session.add(
            DeclaredAidRow(
                application_id=cmd.application_id,
                undertaking_id=cmd.undertaking_id,
                granted_on=declared.granted_on,
                amount_eur=declared.amount_eur,
                instrument=declared.instrument,
            )
        )
    return row


def budget_burn(session: Session) -> list[tuple[float, dict[str, str]]]:
    """Each call's budget per area as gauge readings (the `loket.budget` metric)."""
    readings = []
    for row in session.scalars(select(CallBudgetRow)):
        where = {"call": row.call_id, "priority_area": row.priority_area}
        for kind, eur in (
            ("total", row.total_eur),
            ("reserved", row.reserved_eur),
            ("granted", row.granted_eur),
            ("available", row.available_eur),
        ):
            readings.append((float(eur), {**where, "kind": kind}))
    return readings


def reserve_budget(session: Session, call_id: str, area: str, amount: Decimal) -> bool:
    """Reserve `amount` if the area's budget still has it: False if it does not, or if the
    call has no budget for the area."""
    found = session.execute(_RESERVE, {"call": call_id, "area": area, "amount": amount})
    return bool(found.rowcount == 1)  # type: ignore[attr-defined]


def move_budget(session: Session, call_id: str, area: str, amount: Decimal, *, grant: bool) -> None:
    """A reservation ends: granted (it moves to granted) or given back."""
    statement = _GRANT if grant else _RELEASE
    session.execute(statement, {"call": call_id, "area": area, "amount": amount})


def give_back_grant(session: Session, call_id: str, area: str, amount: Decimal) -> None:
    """Unused value of a granted voucher returns to the call's available budget."""
    session.execute(_GIVE_BACK, {"call": call_id, "area": area, "amount": amount})
