"""Events for the vouchers handlers' tests, and applying them as the runtime would."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal

from loket_contracts import messages as m
from loket_contracts.envelope import CloudEvent, make_event
from loket_contracts.scheme import load_scheme
from loket_messaging import Outgoing
from loket_messaging.db import unit_of_work
from loket_messaging.handlers import invoke
from loket_vouchers.adapters import repository as repo
from loket_vouchers.adapters.tables import CallBudgetRow
from loket_vouchers.entrypoints.handlers import VoucherHandlers
from loket_vouchers.entrypoints.queries import VoucherQueries
from pydantic import BaseModel
from sqlalchemy import Engine

CALL = "LOKET-2026-01"
SCHEME = load_scheme("pilot-2026")
QUERIES = VoucherQueries(SCHEME)  # read-only: one for all tests
AS_OF = date(2026, 11, 28)


def apply(
    engine: Engine, handler: Callable[..., Sequence[Outgoing]], event: CloudEvent
) -> Sequence[Outgoing]:
    """As the runtime calls it: a command's handler gets the decoded body."""
    with unit_of_work(engine) as session:
        return invoke(handler, session, event)


def handlers(engine: Engine) -> VoucherHandlers:
    with unit_of_work(engine) as session:
        repo.seed_budgets(session, SCHEME)
    return VoucherHandlers(SCHEME)


def screening(
    app_id: str,
    value: int,
    undertaking: str = "PT-1",
    linked: list[str] | None = None,
    prior: list[m.DeclaredAid] | None = None,
    sme: bool = True,
) -> CloudEvent:
    cmd = m.ScreeningRequested(
        application_id=app_id,
        undertaking_id=undertaking,
        linked_undertakings=linked or [],
        declared_prior_aid=prior or [],
        call_id=CALL,
        priority_area="quantum",
        market_value_eur=Decimal(value),
        applicant_payment_eur=Decimal(0),
        as_of=AS_OF,
        sme=sme,
    )
    return make_event(source="test", type_=m.SCREENING_REQUESTED, body=cmd, correlation_id=app_id)


def prior(amount: int, instrument: str = "de_minimis") -> list[m.DeclaredAid]:
    return [
        m.DeclaredAid(
            granted_on=date(2025, 1, 1), amount_eur=Decimal(amount), instrument=instrument
        )
    ]


def ref(type_: str, app_id: str) -> CloudEvent:
    return make_event(source="test", type_=type_, body=m.VoucherRef(application_id=app_id))


def query(type_: str, body: BaseModel) -> CloudEvent:
    return make_event(source="gateway", type_=type_, body=body)


def budget(engine: Engine) -> CallBudgetRow:
    with unit_of_work(engine) as session:
        row = session.get(CallBudgetRow, (CALL, "quantum"))
        assert row is not None
        return row


def redeem(app_id: str, delivery_id: str, market_value: int) -> CloudEvent:
    body = m.Redemption(
        application_id=app_id,
        delivery_id=delivery_id,
        units=1,
        market_value_eur=Decimal(market_value),
    )
    return make_event(source="test", type_=m.REDEEM_REQUESTED, body=body)


def close(app_id: str, why: str) -> CloudEvent:
    body = m.VoucherClose(application_id=app_id, reason=why)
    return make_event(source="test", type_=m.VOUCHER_CLOSE_REQUESTED, body=body)
