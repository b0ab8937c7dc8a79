"""Kafka entrypoints of the vouchers service: screening + reservation, issuance, release."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from decimal import Decimal

from loket_contracts import messages as m
from loket_contracts import topics
from loket_contracts.envelope import CloudEvent
from loket_messaging import Emitter, Outgoing, ServiceRuntime
from loket_messaging.clock import utcnow
from loket_messaging.db import unit_of_work
from loket_messaging.runtime import Rejected
from sqlmodel import Session

from loket_vouchers.adapters import repository as repo
from loket_vouchers.adapters.tables import AidRow, CallBudgetRow, DeclaredAidRow
from loket_vouchers.domain.scheme import PILOT_2026
from loket_vouchers.domain.state_aid import screen

SOURCE = "loket/vouchers"
SCHEME = PILOT_2026


emit = Emitter(topics.VOUCHERS_EVENTS, SOURCE)


def _reserved_body(row: AidRow) -> m.AidReserved:
    return m.AidReserved(
        application_id=row.application_id,
        instrument=row.instrument,
        aid_element_eur=row.aid_element_eur,
        voucher_eur=row.aid_element_eur,  # the voucher pays what the applicant does not
        co_payment_eur=row.co_payment_eur,
        de_minimis_headroom_after_eur=row.de_minimis_headroom_after_eur,
        scheme_version=row.scheme_version,
        reason=row.reason,
    )


def _refused(cmd: m.ScreeningRequested, code: str, reason: str) -> list[Outgoing]:
    body = m.ScreeningRefused(
        application_id=cmd.application_id,
        code=code,
        scheme_version=SCHEME.version,
        reason=reason,
    )
    return [emit(m.SCREENING_REFUSED, body, cmd.application_id)]


def on_screening_requested(session: Session, event: CloudEvent) -> Sequence[Outgoing]:
    cmd = event.decode(m.ScreeningRequested)
    existing = session.get(AidRow, cmd.application_id)
    if existing is not None and existing.status in ("reserved", "granted"):
        return [emit(m.AID_RESERVED, _reserved_body(existing), cmd.application_id)]
    group = [cmd.undertaking_id, *cmd.linked_undertakings]
    repo.lock_single_undertaking(session, group)
    ledger = repo.de_minimis_ledger(session, group, cmd.declared_prior_aid)
    result = screen(cmd.market_value_eur, cmd.applicant_payment_eur, ledger, cmd.as_of, SCHEME)
    if result.instrument == "refused":
        return _refused(cmd, "de_minimis_headroom_exhausted", result.reason)
    if session.get(CallBudgetRow, (cmd.call_id, cmd.priority_area)) is None:
        return _refused(
            cmd, "unknown_call", f"call {cmd.call_id} has no budget for {cmd.priority_area}"
        )
    if not repo.reserve_budget(session, cmd.call_id, cmd.priority_area, result.aid_element_eur):
        return _refused(
            cmd,
            "budget_exhausted",
            f"the {cmd.priority_area} budget of call {cmd.call_id} cannot cover "
            f"€{result.aid_element_eur:,.2f}",
        )
    if existing is not None:  # a released reservation screened again (re-allocation)
        session.delete(existing)
        session.flush()
    row = AidRow(
        application_id=cmd.application_id,
        undertaking_id=cmd.undertaking_id,
        call_id=cmd.call_id,
        priority_area=cmd.priority_area,
        instrument=result.instrument,
        aid_element_eur=result.aid_element_eur,
        co_payment_eur=cmd.applicant_payment_eur,
        de_minimis_headroom_after_eur=result.headroom_after_eur,
        status="reserved",
        grant_date=cmd.as_of,
        scheme_version=SCHEME.version,
        reason=result.reason,
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
    body = _reserved_body(row)
    return [emit(m.AID_RESERVED, body, cmd.application_id)]


def voucher_id_for(application_id: str) -> str:
    return "V-" + hashlib.sha256(application_id.encode()).hexdigest()[:12].upper()


def on_issue_requested(session: Session, event: CloudEvent) -> Sequence[Outgoing]:
    cmd = event.decode(m.VoucherRef)
    row = session.get(AidRow, cmd.application_id)
    if row is None or row.status not in ("reserved", "granted"):
        raise Rejected(f"no reservation to issue a voucher from for {cmd.application_id}")
    if row.status == "reserved":
        # De minimis aid is granted when the legal right is conferred: at issuance.
        repo.move_budget(session, row.call_id, row.priority_area, row.aid_element_eur, grant=True)
        row.status = "granted"
        row.grant_date = utcnow().date()
        row.voucher_id = voucher_id_for(row.application_id)
        session.add(row)
    body = m.VoucherIssued(
        application_id=row.application_id,
        voucher_id=row.voucher_id or "",
        voucher_eur=row.aid_element_eur,
        instrument=row.instrument,
        granted_on=row.grant_date,
    )
    return [emit(m.VOUCHER_ISSUED, body, row.application_id)]


def on_release_requested(session: Session, event: CloudEvent) -> Sequence[Outgoing]:
    cmd = event.decode(m.VoucherRef)
    row = session.get(AidRow, cmd.application_id)
    released = Decimal(0)
    if row is not None and row.status == "reserved":
        repo.move_budget(session, row.call_id, row.priority_area, row.aid_element_eur, grant=False)
        row.status = "released"
        released = row.aid_element_eur
        session.add(row)
    body = m.ReservationReleased(application_id=cmd.application_id, released_eur=released)
    return [emit(m.RESERVATION_RELEASED, body, cmd.application_id)]


def register(runtime: ServiceRuntime) -> None:
    runtime.handle(topics.VOUCHERS_COMMANDS, m.SCREENING_REQUESTED, on_screening_requested)
    runtime.handle(topics.VOUCHERS_COMMANDS, m.ISSUE_REQUESTED, on_issue_requested)
    runtime.handle(topics.VOUCHERS_COMMANDS, m.RESERVATION_RELEASE_REQUESTED, on_release_requested)

    async def seed() -> None:
        def _seed() -> None:
            with unit_of_work(runtime.engine) as session:
                repo.seed_budgets(session, SCHEME)

        await asyncio.to_thread(_seed)

    runtime.on_startup(seed)
