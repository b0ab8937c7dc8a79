"""The programme's calls: opened, amended and closed by managers, every change a version.

The rules (`amended`, `closed`) are pure; the register functions write the call, its version
and the `CallChanged` event (through the outbox, for the vouchers service) in one transaction.
Calls of the scheme file are registered at start as version 1 of an online call.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from loket_contracts import topics
from loket_contracts.calls import (
    CALL_CHANGED,
    Call,
    CallAmendment,
    CallChanged,
    CallClosing,
    CallSpec,
    CallVersion,
)
from loket_contracts.envelope import make_event
from loket_contracts.scheme import Scheme
from loket_messaging import Outgoing
from loket_messaging.outbox import stage
from sqlalchemy import select
from sqlmodel import Session, col

from loket_gateway.problems import Problem
from loket_gateway.tables import CallRow, CallVersionRow

SOURCE = "loket/gateway"


def refused(code: str, title: str, detail: str, status: int = 409) -> Problem:
    return Problem(status, code, title, detail)


# ---- rules --------------------------------------------------------------------------------


def amended(call: Call, change: CallAmendment, who: str, now: datetime) -> Call:
    """The call after a manager's amendment, or a Problem saying why not."""
    _current(call, change.version)
    if change.opens_at is not None and change.opens_at != call.opens_at and call.opens_at <= now:
        raise refused(
            "call-already-open", "The call is open", "its opening time can no longer change"
        )
    if change.closes_at is not None and change.closes_at != call.closes_at:
        if call.mode == "batch" and call.closes_at is not None and call.closes_at <= now:
            raise refused(
                "cut-off-passed",
                "The cut-off has passed",
                "the call's allocation round has run or is running; close the call instead",
            )
        if change.closes_at <= now:
            raise refused(
                "closes-in-the-past",
                "Closing time in the past",
                "to close the call now, use POST /v1/calls/{call_id}/close",
                422,
            )
    budgets = {**call.budgets, **(change.budgets or {})}
    values = call.model_dump() | {
        k: v
        for k, v in {
            "title": change.title,
            "opens_at": change.opens_at,
            "closes_at": change.closes_at,
        }.items()
        if v is not None
    }
    values |= {"budgets": budgets, "version": call.version + 1, "changed_at": now}
    values["changed_by"] = who
    try:
        return Call.model_validate(values)
    except ValueError as exc:
        raise refused("invalid-amendment", "Invalid amendment", str(exc), 422) from None


def closed(call: Call, closing: CallClosing, who: str, now: datetime) -> Call:
    """Closed now: no new applications; a batch call's round runs now."""
    _current(call, closing.version)
    open_now = call.opens_at < now and (call.closes_at is None or call.closes_at > now)
    values = call.model_dump() | {
        "status": "closed",
        # a call closed before it opened keeps its dates: it never took an application
        "closes_at": now if open_now else call.closes_at,
        "version": call.version + 1,
        "changed_at": now,
        "changed_by": who,
    }
    return Call.model_validate(values)


def _current(call: Call, version: int) -> None:
    if call.status == "closed":
        raise refused("call-closed", "The call is closed", f"{call.call_id} cannot change now")
    if version != call.version:
        raise refused(
            "stale-version",
            "The call changed meanwhile",
            f"you read version {version}; {call.call_id} is at version {call.version}: "
            "read it again and repeat your change",
        )


# ---- the register -------------------------------------------------------------------------


def find(session: Session, call_id: str) -> Call | None:
    row = session.get(CallRow, call_id)
    return Call.model_validate_json(row.call_json) if row else None


def get(session: Session, call_id: str) -> Call:
    call = find(session, call_id)
    if call is None:
        raise Problem(404, "call-not-found", "No such call", f"no call {call_id}")
    return call


def all_calls(session: Session) -> list[Call]:
    rows = session.scalars(select(CallRow).order_by(col(CallRow.call_id))).all()
    return [Call.model_validate_json(r.call_json) for r in rows]


def ids(session: Session) -> list[str]:
    return list(session.scalars(select(col(CallRow.call_id)).order_by(col(CallRow.call_id))))


def versions(session: Session, call_id: str) -> list[CallVersion]:
    rows = session.scalars(
        select(CallVersionRow)
        .where(col(CallVersionRow.call_id) == call_id)
        .order_by(col(CallVersionRow.version))
    ).all()
    return [
        CallVersion(
            version=r.version,
            changed_at=r.changed_at,
            changed_by=r.changed_by,
            reason=r.reason,
            call=Call.model_validate_json(r.call_json),
        )
        for r in rows
    ]


def opened(spec: CallSpec, who: str, now: datetime) -> Call:
    return Call(
        **spec.model_dump(),
        version=1,
        status="open",
        changed_at=now,
        changed_by=who,
        source="programme",
    )


def save(session: Session, call: Call, reason: str, *, publish: bool = True) -> None:
    """The call's new version, its history row and (unless seeded) its event, together."""
    row = session.get(CallRow, call.call_id, with_for_update=True)
    if call.version == 1 and row is not None:
        raise refused("call-exists", "The call exists", f"{call.call_id} is already a call")
    if call.version > 1 and (row is None or row.version != call.version - 1):
        raise refused("stale-version", "The call changed meanwhile", "read it again")
    row = row or CallRow(call_id=call.call_id, version=0, status="open", call_json="")
    row.version, row.status, row.call_json = call.version, call.status, call.model_dump_json()
    session.add(row)
    session.add(
        CallVersionRow(
            call_id=call.call_id,
            version=call.version,
            changed_at=call.changed_at,
            changed_by=call.changed_by,
            reason=reason,
            call_json=call.model_dump_json(),
        )
    )
    if publish:
        body = CallChanged(
            call_id=call.call_id,
            version=call.version,
            mode=call.mode,
            status=call.status,
            closes_at=call.closes_at,
            budgets=call.budgets,
        )
        event = make_event(
            source=SOURCE, type_=CALL_CHANGED, body=body, correlation_id=call.call_id
        )
        stage(session, Outgoing(topics.CALLS, event, key=call.call_id))


def seed(session: Session, scheme: Scheme) -> None:
    """The scheme file's calls, as online calls open from the scheme's start (the vouchers
    service seeds their budgets from the same file)."""
    for call_id, areas in scheme.budgets.items():
        if session.get(CallRow, call_id) is not None:
            continue
        call = Call(
            call_id=call_id,
            title=f"{call_id} (scheme {scheme.version})",
            mode="online",
            opens_at=datetime.combine(scheme.valid_from, time(), UTC),
            budgets={area: sourced.value for area, sourced in areas.items()},
            version=1,
            status="open",
            changed_at=datetime.now(UTC),
            changed_by="scheme",
            source=f"scheme {scheme.version}",
        )
        save(session, call, f"budget table of scheme {scheme.version}", publish=False)
