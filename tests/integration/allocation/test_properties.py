"""Allocation properties (hypothesis), on the real handlers and a fresh SQLite database:
- any permutation or duplication of a facility's event stream yields the same projection;
- never more units held or booked than published, whatever facilities and applicants do;
- an expired hold frees its units."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from loket_allocation.adapters.tables import FacilityRow, HoldRow, OfferingRow, SlotRow
from loket_allocation.entrypoints.handlers import AllocationHandlers
from loket_contracts import capacity as cap
from loket_contracts import messages as m
from loket_contracts.envelope import CloudEvent, make_event
from loket_contracts.scheme import load_scheme
from loket_messaging.db import create_schema, make_engine, unit_of_work
from loket_messaging.handlers import invoke
from sqlalchemy import Engine
from sqlmodel import select

h = AllocationHandlers(load_scheme())

T0 = datetime(2027, 5, 3, 8, tzinfo=UTC)
FAST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def fresh_engine() -> tuple[Engine, Path]:
    shm = "/dev/shm" if Path("/dev/shm").is_dir() else None
    folder = Path(tempfile.mkdtemp(prefix="loket-alloc-", dir=shm))
    engine = make_engine(f"sqlite:///{folder / 'a.db'}")
    create_schema(engine)
    return engine, folder


def profile(seq: int, price: int) -> CloudEvent:
    return make_event(
        source="facility/f1",
        type_=cap.PROFILE,
        body=cap.FacilityProfile(
            facility_id="f1",
            sequence=seq,
            name=f"F{seq}",
            site="Lund",
            country="SE",
            kind="RI",
            offerings=[
                cap.Offering(
                    offering_id="o1",
                    service_type="beamtime.x",
                    unit="shift",
                    market_price_eur=price,
                    access_modes=["physical"],
                )
            ],
        ),
    )


def publish(seq: int, slot: str, units: int, day: int = 0) -> CloudEvent:
    return make_event(
        source="facility/f1",
        type_=cap.SLOT_PUBLISHED,
        body=cap.SlotPublished(
            facility_id="f1",
            sequence=seq,
            slot_id=slot,
            offering_id="o1",
            start=T0 + timedelta(days=day),
            end=T0 + timedelta(days=day + 2),
            capacity_units=units,
        ),
    )


def withdraw(seq: int, slot: str) -> CloudEvent:
    return make_event(
        source="facility/f1",
        type_=cap.SLOT_WITHDRAWN,
        body=cap.SlotWithdrawn(facility_id="f1", sequence=seq, slot_id=slot, reason="maintenance"),
    )


HANDLER = {
    cap.PROFILE: h.on_profile,
    cap.SLOT_PUBLISHED: h.on_slot_published,
    cap.SLOT_WITHDRAWN: h.on_slot_withdrawn,
}


def apply(engine: Engine, event: CloudEvent) -> list[Any]:
    with unit_of_work(engine) as session:
        return list(HANDLER[event.type](session, event))


def projection(engine: Engine) -> tuple[Any, ...]:
    with unit_of_work(engine) as session:
        slots = sorted(
            (
                s.slot_id,
                s.offering_id,
                s.start,
                s.end,
                s.capacity_units,
                s.withdrawn,
                s.published_sequence,
                s.withdrawn_sequence,
            )
            for s in session.scalars(select(SlotRow)).all()
        )
        facilities = [(f.name, f.profile_sequence) for f in session.scalars(select(FacilityRow))]
        offerings = [
            (o.offering_id, o.market_price_eur) for o in session.scalars(select(OfferingRow))
        ]
    return (tuple(slots), tuple(facilities), tuple(offerings))


@st.composite
def event_streams(draw: st.DrawFn) -> list[CloudEvent]:
    """A facility's stream: sequences strictly increase across all its events."""
    kinds = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["profile", "publish", "withdraw"]),
                st.sampled_from(["s1", "s2", "s3"]),
                st.integers(1, 9),
            ),
            min_size=1,
            max_size=14,
        )
    )
    events = []
    for seq, (kind, slot, n) in enumerate(kinds, start=1):
        events.append(
            profile(seq, 1000 * n)
            if kind == "profile"
            else publish(seq, slot, n, day=n)
            if kind == "publish"
            else withdraw(seq, slot)
        )
    return events


@FAST
@given(stream=event_streams(), data=st.data())
def test_any_permutation_or_duplication_yields_the_same_projection(
    stream: list[CloudEvent], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(stream))
    duplicated = shuffled + data.draw(st.lists(st.sampled_from(stream), max_size=6))
    in_order, folder1 = fresh_engine()
    messy, folder2 = fresh_engine()
    try:
        for event in stream:
            apply(in_order, event)
        for event in duplicated:
            apply(messy, event)
        assert projection(messy) == projection(in_order)
    finally:
        in_order.dispose()
        messy.dispose()
        shutil.rmtree(folder1, ignore_errors=True)
        shutil.rmtree(folder2, ignore_errors=True)


class CapacityMachine(RuleBasedStateMachine):
    """Facilities change capacity while applicants hold, confirm, release and let holds expire."""

    def __init__(self) -> None:
        super().__init__()
        self.engine, self.folder = fresh_engine()
        self.seq = 1
        apply(self.engine, profile(self.seq, 2000))
        self.apps: list[str] = []

    def teardown(self) -> None:
        self.engine.dispose()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def _command(self, handler: Any, type_: str, body: Any) -> list[Any]:
        with unit_of_work(self.engine) as session:
            return list(invoke(handler, session, make_event(source="t", type_=type_, body=body)))

    @rule(slot=st.sampled_from(["s1", "s2"]), units=st.integers(0, 8))
    def facility_publishes(self, slot: str, units: int) -> None:
        if units == 0:
            apply(self.engine, withdraw(self._next(), slot))
        else:
            apply(self.engine, publish(self._next(), slot, units))

    @rule(units=st.integers(1, 5), two=st.booleans())
    def applicant_holds(self, units: int, two: bool) -> None:
        app = f"app-{len(self.apps)}"
        self.apps.append(app)
        needs = [
            m.Need(
                service_type="beamtime.x",
                units=units,
                earliest_start=T0,
                latest_end=T0 + timedelta(days=9),
            )
        ] * (2 if two else 1)
        self._command(
            h.on_hold_requested,
            m.HOLD_REQUESTED,
            m.HoldRequested(
                application_id=app,
                applicant_workplace_country="AT",
                needs=needs,
                hold_ttl_seconds=3600,
            ),
        )

    @rule(data=st.data())
    def applicant_confirms(self, data: st.DataObject) -> None:
        if self.apps:
            app = data.draw(st.sampled_from(self.apps))
            self._command(
                h.on_confirm_requested, m.CONFIRM_REQUESTED, m.AllocationRef(application_id=app)
            )

    @rule(data=st.data())
    def applicant_releases(self, data: st.DataObject) -> None:
        if self.apps:
            app = data.draw(st.sampled_from(self.apps))
            self._command(
                h.on_release_requested, m.RELEASE_REQUESTED, m.AllocationRef(application_id=app)
            )

    @rule(data=st.data())
    def hold_expires(self, data: st.DataObject) -> None:
        if not self.apps:
            return
        app = data.draw(st.sampled_from(self.apps))
        with unit_of_work(self.engine) as session:
            hold = session.get(HoldRow, app)
            if hold is None or hold.status != "held":
                return
            hold.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        before = self._units()
        with unit_of_work(self.engine) as session:
            released = list(h.expire_holds(session))
        freed = sum(o.event.decode(m.AllocationReleased).units_released for o in released)
        assert freed > 0 and self._units() == before - freed  # its units are free again

    def _units(self) -> int:
        with unit_of_work(self.engine) as session:
            return sum(s.held_units for s in session.scalars(select(SlotRow)).all())

    @invariant()
    def never_more_held_or_booked_than_published(self) -> None:
        with unit_of_work(self.engine) as session:
            for s in session.scalars(select(SlotRow)).all():
                assert s.held_units >= 0 and s.booked_units >= 0
                published = 0 if s.withdrawn else s.capacity_units
                assert s.held_units + s.booked_units <= published, (
                    f"{s.slot_id}: held {s.held_units} + booked {s.booked_units} > {published}"
                )


TestCapacityMachine = CapacityMachine.TestCase
TestCapacityMachine.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
