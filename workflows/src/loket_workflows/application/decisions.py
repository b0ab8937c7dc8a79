"""Who may decide what: only decisions sealed by the gateway count, and each is recorded with
the person who made it."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from loket_contracts import seals
    from loket_contracts.application import DecisionRecord, Stage, TermsDecision

    from loket_workflows.application.state import ApplicationState


def authorise(
    state: ApplicationState,
    seal: str | None,
    update: str,
    *,
    manager: bool = False,
    owner: bool = False,
) -> None:
    """A manager's decision, or a person's of the organisation the application belongs to."""
    try:
        actor = seals.verify(seal, state.app_id, update, workflow.now())
    except seals.InvalidSeal as exc:
        raise ApplicationError(str(exc), type="Forbidden") from None
    if manager and actor.has("manager"):
        return
    owned_by = state.inp.owner.org if state.inp.owner else None
    if owner and actor.has("applicant") and owned_by is not None and actor.org == owned_by:
        return
    raise ApplicationError(f"{actor.name} may not decide {update} here", type="Forbidden")


def record(
    state: ApplicationState, seal: str | None, decision: str, summary: str
) -> seals.Actor | None:
    """Who decided, from the seal the validator checked."""
    actor = seals.actor_of(seal)
    if actor is not None:
        state.status.decisions.append(
            DecisionRecord(decision=decision, actor=actor, at=workflow.now(), summary=summary)
        )
    return actor


def check_terms_decision(state: ApplicationState, decision: TermsDecision) -> None:
    """Terms are decided once, while offered, and only the exact text offered."""
    if state.status.stage != Stage.AWAITING_ACCEPTANCE or state.answer is not None:
        raise ApplicationError(
            f"terms cannot be decided in stage {state.status.stage}", type="WrongStage"
        )
    assert state.terms is not None
    if decision.terms_sha256 != state.terms.sha256:
        raise ApplicationError(
            "terms_sha256 does not match the terms offered: read the current terms again",
            type="TermsMismatch",
        )


def wrong_stage(message: str) -> ApplicationError:
    return ApplicationError(message, type="WrongStage")
