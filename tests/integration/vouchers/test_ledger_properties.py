"""Property test (hypothesis): for any interleaving of screening (hold), issuance (commit),
release and expiry, no single undertaking's aid in the three-year window exceeds its ceilings
(given the aid its members had declared when the aid was decided) and no call budget is
exceeded. Runs the real handlers on a fresh SQLite database per example."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from loket_contracts import messages as m
from loket_contracts.envelope import make_event
from loket_contracts.scheme import parse_scheme
from loket_messaging.db import create_schema, make_engine, unit_of_work
from loket_messaging.handlers import invoke
from loket_vouchers.adapters import repository as repo
from loket_vouchers.adapters.tables import AidRow, CallBudgetRow
from loket_vouchers.entrypoints.handlers import VoucherHandlers
from sqlmodel import select

TODAY = datetime.now(UTC).date()
BUDGET = Decimal(600_000)
SCHEME = parse_scheme(
    resources.files("loket_contracts")
    .joinpath("schemes", "pilot-2026.toml")
    .read_text()
    .replace("quantum = { value = 1_000_000", f"quantum = {{ value = {BUDGET}")
)
# Two single undertakings: A and B are linked (one ledger), C stands alone.
GROUPS = {"A": ["B"], "B": ["A"], "C": []}
# Aid received elsewhere, declared with every application. B, linked to A, declares only part
# of what A declares: what one member declared must still count for the other.
DECLARED = {
    "A": [
        m.DeclaredAid(granted_on=TODAY - timedelta(days=400), amount_eur=Decimal(150_000)),
        m.DeclaredAid(granted_on=TODAY - timedelta(days=4 * 365), amount_eur=Decimal(290_000)),
        m.DeclaredAid(
            granted_on=TODAY - timedelta(days=30),
            amount_eur=Decimal(200_000),
            instrument="gber_art28",
        ),
    ],
    "B": [m.DeclaredAid(granted_on=TODAY - timedelta(days=400), amount_eur=Decimal(150_000))],
    "C": [
        m.DeclaredAid(granted_on=TODAY - timedelta(days=3 * 365 - 2), amount_eur=Decimal(200_000))
    ],
}


def group_of(u: str) -> set[str]:
    return {u, *GROUPS[u]}


class LedgerMachine(RuleBasedStateMachine):
    applications = Bundle("applications")

    def __init__(self) -> None:
        super().__init__()
        shm = "/dev/shm" if Path("/dev/shm").is_dir() else None  # RAM: no fsync per step
        self.dir = Path(tempfile.mkdtemp(prefix="loket-prop-", dir=shm))
        self.engine = make_engine(f"sqlite:///{self.dir / 'v.db'}")
        create_schema(self.engine)
        with unit_of_work(self.engine) as session:
            repo.seed_budgets(session, SCHEME)
        self.h = VoucherHandlers(SCHEME)
        self.n = 0
        self.declared: set[tuple[str, date, Decimal, str]] = set()  # what Loket was told

    def teardown(self) -> None:
        self.engine.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)

    def run(self, handler, event) -> None:
        with unit_of_work(self.engine) as session:
            invoke(handler, session, event)

    @rule(
        target=applications,
        undertaking=st.sampled_from(sorted(GROUPS)),
        value=st.integers(min_value=1, max_value=250).map(lambda k: Decimal(k * 1000)),
        payment=st.sampled_from([Decimal(0), Decimal(5_000)]),
        sme=st.booleans(),
    )
    def screen(self, undertaking: str, value: Decimal, payment: Decimal, sme: bool) -> str:
        self.n += 1
        app = f"app-{self.n}"
        self.declared |= {
            (undertaking, d.granted_on, d.amount_eur, d.instrument) for d in DECLARED[undertaking]
        }
        cmd = m.ScreeningRequested(
            application_id=app,
            undertaking_id=undertaking,
            linked_undertakings=GROUPS[undertaking],
            declared_prior_aid=DECLARED[undertaking],
            call_id="LOKET-2026-01",
            priority_area="quantum",
            market_value_eur=value,
            applicant_payment_eur=payment,
            as_of=TODAY,
            sme=sme,
        )
        self.run(
            self.h.on_screening_requested,
            make_event(source="t", type_=m.SCREENING_REQUESTED, body=cmd),
        )
        # Checked when aid is decided, against what the undertaking had declared by then: a
        # grant that a member only declares later cannot be foreseen.
        self.ceilings_hold(app, undertaking)
        return app

    @rule(app=applications)
    def issue(self, app: str) -> None:
        with unit_of_work(self.engine) as session:
            row = session.get(AidRow, app)
            if row is None or row.status not in ("reserved", "granted"):
                return  # nothing to issue: the workflow never asks for it
        self.run(
            self.h.on_issue_requested,
            make_event(source="t", type_=m.ISSUE_REQUESTED, body=m.VoucherRef(application_id=app)),
        )

    @rule(app=applications)
    def release(self, app: str) -> None:
        self.run(
            self.h.on_release_requested,
            make_event(
                source="t",
                type_=m.RESERVATION_RELEASE_REQUESTED,
                body=m.VoucherRef(application_id=app),
            ),
        )

    @rule(app=applications)
    def expire(self, app: str) -> None:
        with unit_of_work(self.engine) as session:
            row = session.get(AidRow, app)
            if row is not None and row.status == "reserved":
                row.hold_expires_at = datetime.now(UTC) - timedelta(seconds=1)
        with unit_of_work(self.engine) as session:
            self.h.expire_holds(session)

    def ceilings_hold(self, app: str, undertaking: str) -> None:
        """The aid just decided keeps its instrument's ledger within the ceiling."""
        with unit_of_work(self.engine) as session:
            rows = session.scalars(select(AidRow)).all()
        decided = next((r for r in rows if r.application_id == app), None)
        assert all(r.instrument != "manual_review" for r in rows)
        if decided is None or decided.status != "reserved":
            return  # refused or sent to manual review: nothing granted
        group = group_of(undertaking)
        live = [
            r for r in rows if r.status in ("reserved", "granted") and r.undertaking_id in group
        ]
        # each grant counts once, whichever member declared it
        declared = {(on, amount, kind) for who, on, amount, kind in self.declared if who in group}
        start = date(TODAY.year - 3, TODAY.month, TODAY.day)
        if decided.instrument == "de_minimis":
            used = sum(
                (a for on, a, kind in declared if kind == "de_minimis" and on > start), Decimal(0)
            )
            used += sum(
                (r.aid_element_eur for r in live if r.instrument == "de_minimis"), Decimal(0)
            )
            assert used <= Decimal(300_000), f"de minimis of {sorted(group)}: {used}"
        elif decided.instrument == "gber_art28" and decided.intensity == 1:
            used = sum(
                (a for on, a, kind in declared if kind == "gber_art28" and on > start), Decimal(0)
            )
            used += sum(
                (
                    r.aid_element_eur
                    for r in live
                    if r.instrument == "gber_art28" and r.intensity == 1
                ),
                Decimal(0),
            )
            assert used <= Decimal(220_000), f"Art. 28 at 100 % of {sorted(group)}: {used}"

    @invariant()
    def budget_holds(self) -> None:
        with unit_of_work(self.engine) as session:
            b = session.get(CallBudgetRow, ("LOKET-2026-01", "quantum"))
            rows = session.scalars(select(AidRow)).all()
        assert b is not None
        assert b.reserved_eur + b.granted_eur <= b.total_eur
        assert b.reserved_eur == sum(
            (r.aid_element_eur for r in rows if r.status == "reserved"), Decimal(0)
        )
        assert b.granted_eur == sum(
            (r.aid_element_eur for r in rows if r.status == "granted"), Decimal(0)
        )


TestLedgerProperties = LedgerMachine.TestCase
TestLedgerProperties.settings = settings(
    max_examples=40,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
