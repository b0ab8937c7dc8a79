"""Batch mode: at a call's cut-off, one optimal round (HiGHS) over everyone still waiting."""

from __future__ import annotations

from abc import abstractmethod
from collections import Counter
from collections.abc import Sequence

from loket_contracts import commands as c
from loket_contracts import messages as m
from loket_contracts.scheme import Scheme
from loket_messaging import Outgoing
from loket_messaging.handlers import answers
from sqlalchemy import select
from sqlmodel import Session, col

from loket_allocation.adapters import repository as repo
from loket_allocation.adapters.tables import HoldRow, RoundEntryRow, RoundRow
from loket_allocation.domain.batch import BatchRequest, RoundResult, solve_round
from loket_allocation.domain.model import Choice
from loket_allocation.entrypoints.events import emit

# A round's model keeps some of each need's slots; its placement uses them all (domain/batch.py).
PLACED_BEYOND_THE_MODEL = (
    " (a bound over the slots it considered per need; it placed applications over every slot"
    " that fits, so it can pass that bound)"
)


class BatchRounds:
    scheme: Scheme

    @abstractmethod
    def _place_hold(
        self,
        session: Session,
        cmd: m.HoldRequested,
        choices: list[Choice],
        reason: str,
        existing: HoldRow | None,
    ) -> Outgoing: ...

    def queue_for_round(self, session: Session, cmd: m.HoldRequested) -> bool:
        """A batch call's hold waits for the call's round: True if queued (answered then).
        False once the round has run: a late application (a manual review that ended after
        the cut-off) is served first come from what the round left."""
        assert cmd.batch_call_id is not None
        if session.get(RoundRow, cmd.batch_call_id) is not None:
            return False
        if session.get(RoundEntryRow, cmd.application_id) is None:
            session.add(
                RoundEntryRow(
                    application_id=cmd.application_id,
                    call_id=cmd.batch_call_id,
                    status="queued",
                    hold_json=cmd.model_dump_json(),
                )
            )
        return True

    def withdraw_from_round(self, session: Session, application_id: str) -> None:
        entry = session.get(RoundEntryRow, application_id)
        if entry is not None and entry.status == "queued":
            entry.status = "withdrawn"
            session.add(entry)

    def _queued(self, session: Session, call_id: str) -> list[RoundEntryRow]:
        return list(
            session.scalars(
                select(RoundEntryRow)
                .where(col(RoundEntryRow.call_id) == call_id)
                .where(col(RoundEntryRow.status) == "queued")
                .order_by(col(RoundEntryRow.queued_at), col(RoundEntryRow.application_id))
                .with_for_update()
            )
        )

    @answers(c.ROUND)
    def on_round_requested(self, session: Session, cmd: m.RoundRequested) -> Sequence[Outgoing]:
        """Batch mode at a call's cut-off: one optimal round over everyone still waiting."""
        out: list[Outgoing] = []
        pending = []
        queued = self._queued(session, cmd.call_id) if cmd.call_id else []
        entries = [
            *cmd.entries,
            *(m.RoundEntry(hold=m.HoldRequested.model_validate_json(q.hold_json)) for q in queued),
        ]
        for entry in entries:
            existing = session.get(HoldRow, entry.hold.application_id)
            if existing is not None and existing.status in ("held", "confirmed"):
                placed = m.HoldPlaced.model_validate_json(existing.placed_json)
                out.append(emit(m.HOLD_PLACED, placed, entry.hold.application_id))
            else:
                pending.append(entry)
        types = {n.service_type for e in pending for n in e.hold.needs}
        result = (
            empty_round()
            if not pending
            else solve_round(
                [
                    BatchRequest(
                        e.hold.application_id,
                        e.hold.applicant_workplace_country,
                        e.hold.needs,
                        e.weight,
                    )
                    for e in pending
                ],
                repo.candidates(session, types),
                exempt_forms=frozenset(
                    self.scheme.allocation.transnational_exempt_legal_forms.value
                ),
                country_share_cap=cmd.country_share_cap,
            )
        )
        for entry in pending:
            app_id = entry.hold.application_id
            choices = result.served.get(app_id)
            if choices:
                reason = (
                    f"batch round {cmd.round_id}: served; the round reached "
                    f"{result.objective:g} of an LP bound of {result.lp_bound:g}"
                    + ("" if result.complete else PLACED_BEYOND_THE_MODEL)
                )
                out.append(
                    self._place_hold(
                        session, entry.hold, choices, reason, session.get(HoldRow, app_id)
                    )
                )
            else:
                failed = m.HoldFailed(
                    application_id=app_id,
                    reason=f"not served in batch round {cmd.round_id}: it served "
                    f"{len(result.served)} of {len(pending)} applications, and what is left "
                    "cannot make up this bundle",
                )
                out.append(emit(m.HOLD_FAILED, failed, app_id))
        for q in queued:
            q.status = "decided"
            session.add(q)
        requested = Counter(e.hold.applicant_workplace_country for e in pending)
        served = Counter(
            e.hold.applicant_workplace_country
            for e in pending
            if e.hold.application_id in result.served
        )
        summary = m.RoundSolved(
            call_id=cmd.call_id,
            requested_by_country=dict(sorted(requested.items())),
            served_by_country=dict(sorted(served.items())),
            round_id=cmd.round_id,
            served=sorted(result.served),
            unserved=sorted(
                e.hold.application_id for e in pending if e.hold.application_id not in result.served
            ),
            objective=result.objective,
            lp_bound=result.lp_bound,
            gap=result.gap,
            status=result.status,
            solve_seconds=result.solve_seconds,
        )
        if cmd.call_id and session.get(RoundRow, cmd.call_id) is None:
            session.add(
                RoundRow(
                    call_id=cmd.call_id,
                    round_id=cmd.round_id,
                    summary_json=summary.model_dump_json(),
                )
            )
        out.append(emit(m.ROUND_SOLVED, summary, cmd.round_id))
        return out


def empty_round() -> RoundResult:
    """Nobody waited for the round: nothing to solve."""
    return RoundResult({}, 0.0, 0.0, 0.0, "no applications", 0.0, 0, 0)
