"""The gateway's read model: stage events in any order leave the newest stage listed; the
terms on offer are served from it only while the events name them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from loket_contracts.application import STAGE_CHANGED, Stage, StageChanged, Terms
from loket_contracts.envelope import CloudEvent, make_event
from loket_gateway.listings import list_applications, offered_terms, on_stage_changed
from loket_messaging.db import unit_of_work
from sqlalchemy import Engine

T0 = datetime(2027, 3, 1, tzinfo=UTC)


def change(
    app_id: str,
    sequence: int,
    stage: Stage,
    countries: list[str],
    terms_sha256: str | None = None,
    terms: Terms | None = None,
) -> CloudEvent:
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
        terms_sha256=terms_sha256,
        terms=terms,
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


def terms(text: str) -> Terms:
    sha = hashlib.sha256(text.encode()).hexdigest()
    return Terms(application_id="a1", template_id="t", template_version="1", text=text, sha256=sha)


def told(engine: Engine) -> Terms | None:
    with unit_of_work(engine) as session:
        owner, found = offered_terms(session, "a1")
    assert owner is None  # listed from its events alone: only the submission names the owner
    return found


def test_terms_are_served_while_the_events_name_them(engine: Engine) -> None:
    first, second = terms("Agreement A"), terms("Agreement B")
    apply(engine, change("a1", 5, Stage.TERMS, ["DE"]))
    assert told(engine) is None  # not told yet: the gateway asks the workflow
    apply(engine, change("a1", 6, Stage.AWAITING_ACCEPTANCE, ["DE"], first.sha256, first))
    assert told(engine) == first
    apply(engine, change("a1", 7, Stage.ISSUING, ["DE"], first.sha256))
    assert told(engine) == first  # accepted: still the same text
    # Capacity withdrawn: the workflow forgot the terms and looks for another bundle.
    apply(engine, change("a1", 8, Stage.ALLOCATION, ["DE"]))
    assert told(engine) is None
    apply(engine, change("a1", 6, Stage.AWAITING_ACCEPTANCE, ["DE"], first.sha256, first))
    assert told(engine) is None  # a late copy of the old offer changes nothing
    apply(engine, change("a1", 11, Stage.AWAITING_ACCEPTANCE, ["SE"], second.sha256, second))
    assert told(engine) == second
    # A hash the read model was never told in full (or a run from before): ask the workflow.
    apply(engine, change("a1", 12, Stage.ISSUING, ["SE"], first.sha256))
    assert told(engine) is None
