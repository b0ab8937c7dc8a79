"""Ledger and budget writes, safe under concurrency.

Budgets use an atomic conditional UPDATE (`... WHERE total - reserved - granted >= amount`):
one statement, so two reservations can never both see the same free money. The de minimis
ledger is a read-check-write across rows, so the single undertaking's rows are locked first
(`SELECT ... FOR UPDATE` on PostgreSQL; SQLite takes the database write lock at BEGIN IMMEDIATE).
"""

from __future__ import annotations

from decimal import Decimal

from loket_contracts.messages import DeclaredAid
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from loket_vouchers.adapters.tables import AidRow, CallBudgetRow, UndertakingRow
from loket_vouchers.domain.scheme import AidScheme
from loket_vouchers.domain.state_aid import LedgerEntry


def seed_budgets(session: Session, scheme: AidScheme) -> None:
    for call_id, areas in scheme.call_budgets_eur.items():
        for area, total in areas.items():
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
    ids = sorted(set(undertaking_ids))  # one global order: no deadlock between two applicants
    for uid in ids:
        if session.get(UndertakingRow, uid) is None:
            try:
                with session.begin_nested():
                    session.add(UndertakingRow(undertaking_id=uid))
            except IntegrityError:
                pass  # created concurrently: fine, we lock it below
    session.execute(
        select(UndertakingRow).where(UndertakingRow.undertaking_id.in_(ids)).with_for_update()  # type: ignore[attr-defined]
    ).all()


def de_minimis_ledger(
    session: Session, undertaking_ids: list[str], declared: list[DeclaredAid]
) -> list[LedgerEntry]:
    rows = session.scalars(
        select(AidRow).where(
            AidRow.undertaking_id.in_(undertaking_ids),  # type: ignore[attr-defined]
            AidRow.instrument == "de_minimis",  # type: ignore[arg-type]
            AidRow.status.in_(("reserved", "granted")),  # type: ignore[attr-defined]
        )
    ).all()
    entries = [LedgerEntry(r.grant_date, r.aid_element_eur) for r in rows]
    entries += [
        LedgerEntry(d.granted_on, d.amount_eur) for d in declared if d.instrument == "de_minimis"
    ]
    return entries


def reserve_budget(session: Session, call_id: str, area: str, amount: Decimal) -> bool:
    result = session.execute(
        update(CallBudgetRow)
        .where(
            CallBudgetRow.call_id == call_id,  # type: ignore[arg-type]
            CallBudgetRow.priority_area == area,  # type: ignore[arg-type]
            col(CallBudgetRow.total_eur)
            - col(CallBudgetRow.reserved_eur)
            - col(CallBudgetRow.granted_eur)
            >= amount,
        )
        .values(reserved_eur=CallBudgetRow.reserved_eur + amount)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def move_budget(session: Session, call_id: str, area: str, amount: Decimal, *, grant: bool) -> None:
    values = {"reserved_eur": CallBudgetRow.reserved_eur - amount}
    if grant:
        values["granted_eur"] = CallBudgetRow.granted_eur + amount
    session.execute(
        update(CallBudgetRow)
        .where(CallBudgetRow.call_id == call_id, CallBudgetRow.priority_area == area)  # type: ignore[arg-type]
        .values(**values)
    )
