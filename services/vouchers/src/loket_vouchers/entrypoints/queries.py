"""Read-only queries of the vouchers service: headroom over time, budget position, registers.
Answered on the replies topic, correlated by the query's event id (the gateway waits on it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from loket_contracts import messages as m
from loket_contracts import topics
from loket_contracts.envelope import CloudEvent
from loket_messaging import Emitter, Outgoing
from loket_messaging.handlers import SchemeHandlers
from sqlalchemy import select
from sqlmodel import Session, col

from loket_vouchers.adapters import repository as repo
from loket_vouchers.adapters.tables import AidRow, CallBudgetRow
from loket_vouchers.domain.lifecycle import AidStatus
from loket_vouchers.domain.state_aid import headroom
from loket_vouchers.entrypoints import SOURCE

reply = Emitter(topics.VOUCHERS_REPLIES, SOURCE)
MAX_POINTS = 400  # bounds the work and the reply one query can ask for


class VoucherQueries(SchemeHandlers):
    """The queries, bound to one scheme configuration (tests bind their own)."""

    def on_headroom_query(self, session: Session, event: CloudEvent) -> Sequence[Outgoing]:
        q = event.decode(m.HeadroomQuery)
        group = [q.undertaking_id, *q.linked_undertakings]
        entries = repo.ledger(session, group, repo.declared_aid(session, group))
        points: list[m.HeadroomPoint] = []
        day = q.from_date
        while day <= q.to_date and len(points) < MAX_POINTS:
            left = headroom(entries, day, self.scheme)
            points.append(
                m.HeadroomPoint(
                    on=day,
                    de_minimis_used_eur=left.de_minimis_used_eur,
                    de_minimis_headroom_eur=left.de_minimis_eur,
                    art28_used_eur=left.art28_used_eur,
                    art28_full_intensity_headroom_eur=left.art28_full_intensity_eur,
                )
            )
            day += timedelta(days=q.step_days)
        body = m.HeadroomReply(
            undertaking_id=q.undertaking_id,
            single_undertaking=group,
            scheme_version=self.scheme.version,
            points=points,
        )
        return [reply(m.HEADROOM_REPLY, body, event.id)]

    def on_budget_query(self, session: Session, event: CloudEvent) -> Sequence[Outgoing]:
        q = event.decode(m.BudgetQuery)
        rows = session.scalars(
            select(CallBudgetRow)
            .where(col(CallBudgetRow.call_id) == q.call_id)
            .order_by(col(CallBudgetRow.priority_area))
        ).all()
        areas = [
            m.BudgetArea(
                priority_area=r.priority_area,
                total_eur=r.total_eur,
                reserved_eur=r.reserved_eur,
                granted_eur=r.granted_eur,
                available_eur=r.available_eur,
            )
            for r in rows
        ]
        body = m.BudgetReply(call_id=q.call_id, scheme_version=self.scheme.version, areas=areas)
        return [reply(m.BUDGET_REPLY, body, event.id)]

    def on_register_query(self, session: Session, event: CloudEvent) -> Sequence[Outgoing]:
        q = event.decode(m.RegisterQuery)
        stmt = select(AidRow).where(col(AidRow.status) == AidStatus.GRANTED)
        if q.register_id == "de_minimis":
            stmt = stmt.where(col(AidRow.instrument) == "de_minimis")
        elif q.register_id == "gber_transparency":
            # GBER Art. 9(1)(c): individual awards above the transparency threshold
            threshold = self.scheme.state_aid.transparency_threshold_eur.value
            stmt = stmt.where(
                col(AidRow.instrument) == "gber_art28", col(AidRow.aid_element_eur) > threshold
            )
        # A page at a time: the whole register would outgrow the broker's message size.
        rows = session.scalars(
            stmt.order_by(col(AidRow.grant_date), col(AidRow.application_id))
            .offset(q.offset)
            .limit(q.limit + 1)
        ).all()
        more = len(rows) > q.limit
        rows = rows[: q.limit]
        body = m.RegisterReply(
            register_id=q.register_id,
            scheme_version=self.scheme.version,
            next_offset=q.offset + q.limit if more else None,
            rows=[
                m.RegisterRow(
                    application_id=r.application_id,
                    voucher_id=r.voucher_id,
                    undertaking_id=r.undertaking_id,
                    instrument=r.instrument,
                    aid_eur=r.aid_element_eur,
                    intensity=r.intensity,
                    granted_on=r.grant_date,
                    call_id=r.call_id,
                    priority_area=r.priority_area,
                    legal_source=r.legal_source,
                )
                for r in rows
            ],
        )
        return [reply(m.REGISTER_REPLY, body, event.id)]
