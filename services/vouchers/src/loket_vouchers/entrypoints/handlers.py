"""Kafka entrypoints of the vouchers service: screening + reservation (a hold with expiry),
issuance (the grant), redemption, closure, release (compensation) and expiry; the read-only
queries are in `queries.py`."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from decimal import Decimal

from loket_contracts import commands as c
from loket_contracts import messages as m
from loket_contracts import topics
from loket_contracts.calls import CALL_CHANGED
from loket_contracts.scheme import Scheme, load_scheme, packaged_versions
from loket_messaging import Emitter, Outgoing, ServiceRuntime, metrics
from loket_messaging.clock import utcnow
from loket_messaging.db import unit_of_work
from loket_messaging.failures import Rejected
from loket_messaging.handlers import SchemeHandlers, answers
from sqlalchemy import select
from sqlmodel import Session, col

from loket_vouchers.adapters import repository as repo
from loket_vouchers.adapters.tables import AidRow, CallBudgetRow, RedemptionRow
from loket_vouchers.domain.lifecycle import HELD, AidReservation, AidStatus, NotAllowed, Voucher
from loket_vouchers.domain.redemption import RedemptionRefused
from loket_vouchers.domain.state_aid import granted_by
from loket_vouchers.domain.state_aid import screen as screen_aid
from loket_vouchers.entrypoints import SOURCE, calls
from loket_vouchers.entrypoints.queries import VoucherQueries
from loket_vouchers.grant_check import recheck

EXPIRY_SWEEP_S = 5.0
emit = Emitter(topics.VOUCHERS_EVENTS, SOURCE)


def _reserved_body(row: AidRow) -> m.AidReserved:
    return m.AidReserved(
        application_id=row.application_id,
        instrument=row.instrument,
        intensity=row.intensity,
        aid_element_eur=row.aid_element_eur,
        voucher_eur=row.aid_element_eur,  # the voucher pays what the applicant does not
        co_payment_eur=row.co_payment_eur,
        de_minimis_headroom_after_eur=row.de_minimis_headroom_after_eur,
        scheme_version=row.scheme_version,
        legal_source=row.legal_source,
        reason=row.reason,
    )


class VoucherHandlers(SchemeHandlers):
    """The handlers, bound to one scheme configuration (tests bind their own)."""

    def _refused(
        self, application_id: str, code: str, reason: str, version: str | None = None
    ) -> list[Outgoing]:
        body = m.ScreeningRefused(
            application_id=application_id,
            code=code,
            scheme_version=version or self.scheme.version,
            reason=reason,
        )
        return [emit(m.SCREENING_REFUSED, body, application_id)]

    @answers(c.SCREENING)
    def on_screening_requested(
        self, session: Session, cmd: m.ScreeningRequested
    ) -> Sequence[Outgoing]:
        existing = session.get(AidRow, cmd.application_id)
        if existing is not None and existing.status in HELD:
            return [emit(m.AID_RESERVED, _reserved_body(existing), cmd.application_id)]
        scheme = self.scheme_of(cmd.scheme_version)
        group = [cmd.undertaking_id, *cmd.linked_undertakings]
        repo.lock_single_undertaking(session, group)
        # What any member of the single undertaking declared before counts too.
        known = repo.merge_declared(cmd.declared_prior_aid, repo.declared_aid(session, group))
        entries = repo.ledger(session, group, known)
        result = screen_aid(
            cmd.market_value_eur,
            cmd.applicant_payment_eur,
            granted_by(entries, cmd.as_of),
            cmd.as_of,
            cmd.sme,
            scheme,
            frozenset(cmd.excluded_instruments),
        )
        app_id, version = cmd.application_id, scheme.version
        if result.instrument in ("manual_review", "refused"):
            code = (
                "manual_review"
                if result.instrument == "manual_review"
                else "de_minimis_headroom_exhausted"
            )
            return self._refused(app_id, code, result.reason, version)
        if not repo.reserve_budget(session, cmd.call_id, cmd.priority_area, result.aid_element_eur):
            if session.get(CallBudgetRow, (cmd.call_id, cmd.priority_area)) is None:
                return self._refused(
                    app_id,
                    "unknown_call",
                    f"call {cmd.call_id} has no budget for {cmd.priority_area}",
                    version,
                )
            return self._refused(
                app_id,
                "budget_exhausted",
                f"the {cmd.priority_area} budget of call {cmd.call_id} cannot "
                f"cover €{result.aid_element_eur:,.2f}",
                version,
            )
        if existing is not None:  # a released reservation screened again (re-allocation)
            session.delete(existing)
            session.flush()
        ttl = cmd.hold_ttl_seconds or self.scheme.state_aid.aid_hold_days.value * 86400
        row = repo.record_reservation(session, cmd, result, scheme.version, ttl, group)
        return [emit(m.AID_RESERVED, _reserved_body(row), cmd.application_id)]

    @answers(c.ISSUE)
    def on_issue_requested(self, session: Session, cmd: m.VoucherRef) -> Sequence[Outgoing]:
        row = session.get(AidRow, cmd.application_id)
        if row is None:
            raise Rejected(f"no reservation to issue a voucher from for {cmd.application_id}")
        aid = AidReservation(row)
        try:
            aid.check_issuable()
        except NotAllowed as exc:
            raise Rejected(str(exc)) from exc
        if aid.reserved and self._checked_at_grant(row):
            checked = recheck(session, row, self.scheme_of(row.scheme_version))
            if checked.outcome == "switched":  # a new agreement first, then issuance
                return [emit(m.AID_RESCREENED, _reserved_body(row), row.application_id)]
            if checked.outcome == "refused":  # the workflow gives back booking and budget
                code = "de_minimis_headroom_exhausted"
                return self._refused(row.application_id, code, checked.reason, row.scheme_version)
        if aid.reserved:
            repo.move_budget(
                session, row.call_id, row.priority_area, row.aid_element_eur, grant=True
            )
            aid.grant(voucher_id_for(row.application_id), utcnow().date())
            session.add(row)
        body = m.VoucherIssued(
            application_id=row.application_id,
            voucher_id=row.voucher_id or "",
            voucher_eur=row.aid_element_eur,
            instrument=row.instrument,
            granted_on=row.grant_date,
        )
        return [emit(m.VOUCHER_ISSUED, body, row.application_id)]

    def _checked_at_grant(self, row: AidRow) -> bool:
        rule = self.scheme_of(row.scheme_version).state_aid.de_minimis_checked_at_grant
        return row.instrument == "de_minimis" and rule is not None and rule.value

    @answers(c.REDEEM)
    def on_redeem_requested(self, session: Session, cmd: m.Redemption) -> Sequence[Outgoing]:
        row = session.get(AidRow, cmd.application_id)
        done = session.get(RedemptionRow, cmd.delivery_id)
        if done is None:
            if row is None:
                raise Rejected(f"cannot redeem {cmd.delivery_id} for {cmd.application_id}")
            try:
                amount = Voucher(row).redeem(cmd.market_value_eur)
            except (NotAllowed, RedemptionRefused) as exc:
                raise Rejected(f"{cmd.delivery_id}: {exc}") from exc
            done = RedemptionRow(
                delivery_id=cmd.delivery_id,
                application_id=cmd.application_id,
                units=cmd.units,
                market_value_eur=cmd.market_value_eur,
                redeemed_eur=amount,
            )
            session.add(done)
            session.add(row)
        assert row is not None
        granted = row.granted_eur
        body = m.VoucherRedeemed(
            application_id=cmd.application_id,
            voucher_id=row.voucher_id or "",
            delivery_id=cmd.delivery_id,
            redeemed_eur=done.redeemed_eur,
            redeemed_total_eur=row.redeemed_eur,
            remaining_eur=granted - row.redeemed_eur,
        )
        return [emit(m.VOUCHER_REDEEMED, body, cmd.application_id)]

    @answers(c.CLOSE_VOUCHER)
    def on_close_requested(self, session: Session, cmd: m.VoucherClose) -> Sequence[Outgoing]:
        """The voucher ends (expiry, fully used, cancellation, withdrawn capacity): the unused
        value goes back to the call budget and the ledger keeps the aid the scheme says."""
        row = session.get(AidRow, cmd.application_id)
        if row is None:
            raise Rejected(f"cannot close the voucher of {cmd.application_id}: no voucher")
        rule = self.scheme.state_aid.aid_follows_use
        try:
            closure = Voucher(row).close(rule.value, cmd.reason)
        except NotAllowed as exc:
            raise Rejected(str(exc)) from exc
        if closure is not None:
            if closure.released_eur:
                repo.give_back_grant(session, row.call_id, row.priority_area, closure.released_eur)
            session.add(row)
        granted = row.granted_eur
        body = m.VoucherClosed(
            application_id=row.application_id,
            voucher_id=row.voucher_id or "",
            redeemed_eur=row.redeemed_eur,
            released_eur=granted - row.aid_element_eur,
            aid_recorded_eur=row.aid_element_eur,
            legal_source=rule.source,
            reason=row.closed_reason or cmd.reason,
        )
        return [emit(m.VOUCHER_CLOSED, body, row.application_id)]

    def _release(self, session: Session, row: AidRow, why: AidStatus) -> Decimal:
        repo.move_budget(session, row.call_id, row.priority_area, row.aid_element_eur, grant=False)
        released = AidReservation(row).give_back(why)
        session.add(row)
        return released

    @answers(c.RELEASE_RESERVATION)
    def on_release_requested(self, session: Session, cmd: m.VoucherRef) -> Sequence[Outgoing]:
        row = session.get(AidRow, cmd.application_id)
        released = Decimal(0)
        if row is not None and AidReservation(row).reserved:
            released = self._release(session, row, AidStatus.RELEASED)
        body = m.ReservationReleased(application_id=cmd.application_id, released_eur=released)
        return [emit(m.RESERVATION_RELEASED, body, cmd.application_id)]

    def expire_holds(self, session: Session) -> Sequence[Outgoing]:
        """Reservations past their expiry give headroom and budget back."""
        due = session.scalars(
            select(AidRow).where(
                col(AidRow.status) == AidStatus.RESERVED, col(AidRow.hold_expires_at) < utcnow()
            )
        ).all()
        out = []
        for row in due:
            released = self._release(session, row, AidStatus.EXPIRED)
            body = m.ReservationReleased(
                application_id=row.application_id,
                released_eur=released,
                reason="reservation expired",
            )
            out.append(emit(m.RESERVATION_RELEASED, body, row.application_id))
        return out


def voucher_id_for(application_id: str) -> str:
    return "V-" + hashlib.sha256(application_id.encode()).hexdigest()[:12].upper()


def register(runtime: ServiceRuntime, scheme: Scheme | None = None) -> VoucherHandlers:
    handlers = VoucherHandlers(scheme or load_scheme())  # a bad scheme stops the service here
    packaged_versions()  # and so does a bad version that an application may carry
    for answer in (
        handlers.on_screening_requested,
        handlers.on_issue_requested,
        handlers.on_release_requested,
        handlers.on_redeem_requested,
        handlers.on_close_requested,
    ):
        runtime.answer(answer)  # topic, type and body from the command registry
    queries = VoucherQueries(handlers.scheme)
    for type_, handler in (
        (m.HEADROOM_QUERY, queries.on_headroom_query),
        (m.BUDGET_QUERY, queries.on_budget_query),
        (m.REGISTER_QUERY, queries.on_register_query),
    ):
        runtime.handle(topics.VOUCHERS_QUERIES, type_, handler)
    runtime.handle(topics.CALLS, CALL_CHANGED, calls.on_call_changed)
    runtime.verify(topics.CALLS, calls.only_the_gateway)
    runtime.every(EXPIRY_SWEEP_S, handlers.expire_holds)
    metrics.observe(
        runtime.engine,
        "loket.budget",
        "EUR",
        "Budget per call and priority area: total, reserved, granted and available",
        repo.budget_burn,
    )

    async def seed() -> None:
        def _seed() -> None:
            with unit_of_work(runtime.engine) as session:
                repo.seed_budgets(session, handlers.scheme)

        await asyncio.to_thread(_seed)

    runtime.on_startup(seed)
    return handlers
