"""Batch mode: at a call's cut-off, one optimal round (HiGHS) over everyone still waiting."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

from loket_contracts import messages as m
from loket_contracts.envelope import CloudEvent
from loket_contracts.scheme import Scheme
from loket_messaging import Outgoing
from sqlmodel import Session

from loket_allocation.adapters import repository as repo
from loket_allocation.adapters.tables import HoldRow
from loket_allocation.domain.batch import BatchRequest, solve_round
from loket_allocation.domain.model import Choice
from loket_allocation.entrypoints.events import emit


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

    def on_round_requested(self, session: Session, event: CloudEvent) -> Sequence[Outgoing]:
        """Batch mode at a call's cut-off: one optimal round over everyone still waiting."""
        cmd = event.decode(m.RoundRequested)
        out: list[Outgoing] = []
        pending = []
        for entry in cmd.entries:
            existing = session.get(HoldRow, entry.hold.application_id)
            if existing is not None and existing.status in ("held", "confirmed"):
                placed = m.HoldPlaced.model_validate_json(existing.placed_json)
                out.append(emit(m.HOLD_PLACED, placed, entry.hold.application_id))
            else:
                pending.append(entry)
        types = {n.service_type for e in pending for n in e.hold.needs}
        result = solve_round(
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
            exempt_forms=frozenset(self.scheme.allocation.transnational_exempt_legal_forms.value),
            country_share_cap=cmd.country_share_cap,
        )
        for entry in pending:
            app_id = entry.hold.application_id
            choices = result.served.get(app_id)
            if choices:
                reason = (
                    f"batch round {cmd.round_id}: served; the round reached "
                    f"{result.objective:g} of an LP bound of {result.lp_bound:g}"
                )
                out.append(
                    self._place_hold(
                        session, entry.hold, choices, reason, session.get(HoldRow, app_id)
                    )
                )
            else:
                failed = m.HoldFailed(
                    application_id=app_id,
                    reason=f"not served in batch round {cmd.round_id}: the "
                    "capacity went to applications of higher priority weight",
                )
                out.append(emit(m.HOLD_FAILED, failed, app_id))
        summary = m.RoundSolved(
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
        out.append(emit(m.ROUND_SOLVED, summary, cmd.round_id))
        return out
