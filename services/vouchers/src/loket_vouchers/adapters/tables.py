"""The vouchers service's tables: aid ledger, call budgets, vouchers."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from loket_messaging.outbox import utcnow
from sqlalchemy import Column, Numeric
from sqlmodel import Field, SQLModel


def money() -> Column:
    return Column(Numeric(14, 2), nullable=False)


class CallBudgetRow(SQLModel, table=True):
    __tablename__ = "vch_call_budget"
    call_id: str = Field(primary_key=True, max_length=60)
    priority_area: str = Field(primary_key=True, max_length=60)
    total_eur: Decimal = Field(sa_column=money())
    reserved_eur: Decimal = Field(sa_column=money())
    granted_eur: Decimal = Field(sa_column=money())

    @property
    def available_eur(self) -> Decimal:
        return self.total_eur - self.reserved_eur - self.granted_eur


class UndertakingRow(SQLModel, table=True):
    """One row per single undertaking, locked while its ledger is checked and written."""

    __tablename__ = "vch_undertaking"
    undertaking_id: str = Field(primary_key=True, max_length=200)
    version: int = 0


class AidRow(SQLModel, table=True):
    """Aid this scheme reserved or granted, one row per application."""

    __tablename__ = "vch_aid"
    application_id: str = Field(primary_key=True, max_length=200)
    undertaking_id: str = Field(index=True, max_length=200)
    call_id: str = Field(max_length=60)
    priority_area: str = Field(max_length=60)
    instrument: str = Field(max_length=20)
    intensity: Decimal = Field(sa_column=Column(Numeric(5, 4), nullable=False))
    aid_element_eur: Decimal = Field(sa_column=money())
    co_payment_eur: Decimal = Field(sa_column=money())
    de_minimis_headroom_after_eur: Decimal = Field(sa_column=money())
    status: str = Field(max_length=20, index=True)  # domain.lifecycle.AidStatus
    hold_expires_at: datetime | None = Field(default=None, index=True)
    grant_date: date  # planned at reservation, actual at issuance
    scheme_version: str = Field(max_length=40)
    legal_source: str
    reason: str
    voucher_id: str | None = Field(default=None, max_length=60)
    # What the screening knew, for the check at the grant (pilot-2026-r2 on): the single
    # undertaking's ids, SME or not, instruments excluded (JSON lists; None before 0003).
    single_undertaking_json: str | None = None
    sme: bool | None = None
    excluded_json: str | None = None
    # Use of the voucher (SPEC lifecycle step 8): market value of the access it covers, what
    # deliveries used of it, and how it ended. `aid_element_eur` is corrected at closure.
    market_value_eur: Decimal = Field(default=Decimal(0), sa_column=money())
    redeemed_market_eur: Decimal = Field(default=Decimal(0), sa_column=money())
    redeemed_eur: Decimal = Field(default=Decimal(0), sa_column=money())
    aid_at_issue_eur: Decimal | None = Field(
        default=None, sa_column=Column(Numeric(14, 2), nullable=True)
    )
    voucher_state: str = Field(default="", max_length=20)  # domain.lifecycle.VoucherState
    closed_reason: str | None = None
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def granted_eur(self) -> Decimal:
        """The aid granted at issuance (before any correction at closure)."""
        return self.aid_at_issue_eur if self.aid_at_issue_eur is not None else self.aid_element_eur


class RedemptionRow(SQLModel, table=True):
    """One delivery paid from a voucher, keyed by the facility's report."""

    __tablename__ = "vch_redemption"
    delivery_id: str = Field(primary_key=True, max_length=200)
    application_id: str = Field(index=True, max_length=200)
    units: int
    market_value_eur: Decimal = Field(sa_column=money())
    redeemed_eur: Decimal = Field(sa_column=money())
    created_at: datetime = Field(default_factory=utcnow)


class DeclaredAidRow(SQLModel, table=True):
    """Aid the applicant declared from other sources, kept with the application for audit."""

    __tablename__ = "vch_declared_aid"
    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(index=True, max_length=200)
    undertaking_id: str = Field(index=True, max_length=200)
    granted_on: date
    amount_eur: Decimal = Field(sa_column=money())
    instrument: str = Field(max_length=20)


class CallVersionRow(SQLModel, table=True):
    """The newest version of a call whose budgets this service applied: an older or repeated
    `CallChanged` changes nothing."""

    __tablename__ = "vch_call_version"
    call_id: str = Field(primary_key=True, max_length=60)
    version: int
    status: str = Field(max_length=10)
