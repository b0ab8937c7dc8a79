"""The gateway's read model: stage events in any order leave the newest stage listed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from loket_contracts.application import STAGE_CHANGED, Stage, StageChanged
from loket_contracts.envelope import CloudEvent, make_event
from loket_gateway.listings import list_applications, on_stage_changed
from loket_messaging.db import unit_of_work
from sqlalchemy import Engine

T0 = datetime(2027, 3, 1, tzinfo=UTC)


def change(app_id: str, sequence: int, stage: Stage, countries: list[str]) -> CloudEvent:
    body = StageChanged(
        application_id=app_id,
        sequence=sequence,
        stage=stage,
        at=T0 + timedelta(minutes=sequence),
        applicant_name="Qubitron",
        applicant_country="AT",
        priority_area="quantum",
        call_id="LOKET-2026-01",
        facility_countries=countries,
    )
    return make_event(source="loket/workflows", type_=STAGE_CHANGED, body=body)


def apply(engine: Engine, event: CloudEvent) -> None:
    with unit_of_work(engine) as session:
        on_stage_changed(session, event)


def test_an_older_stage_change_arriving_late_changes_nothing(engine: Engine) -> None:
    apply(engine, change("a1", 5, Stage.AWAITING_ACCEPTANCE, ["DE", "FR"]))
    apply(engine, change("a1", 3, Stage.SCREENING, ["DE", "FR"]))  # late
    apply(engine, change("a2", 2, Stage.ALLOCATION, []))
    with unit_of_work(engine) as session:
        waiting = list_applications(session, stage=["awaiting_acceptance"])
        in_france = list_applications(session, facility_country="FR")
        in_spain = list_applications(session, facility_country="ES")
        page = list_applications(session, limit=1)
    assert [a.application_id for a in waiting.items] == ["a1"]
    assert [a.application_id for a in in_france.items] == ["a1"]
    assert in_france.items[0].facility_countries == ["DE", "FR"]
    assert in_spain.total == 0
    assert (page.total, len(page.items)) == (2, 1)
