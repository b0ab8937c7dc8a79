"""The allocation service's tables: the capacity projection and holds."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from loket_messaging.outbox import utcnow
from sqlalchemy import Column, Numeric, Text
from sqlmodel import Field, SQLModel


class FacilityRow(SQLModel, table=True):
    __tablename__ = "alloc_facility"
    facility_id: str = Field(primary_key=True, max_length=120)
    name: str
    site: str
    country: str = Field(max_length=2, index=True)
    kind: str = Field(max_length=2)
    legal_form: str | None = Field(default=None, max_length=40)
    priority_areas: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    profile_sequence: int = -1


class OfferingRow(SQLModel, table=True):
    __tablename__ = "alloc_offering"
    facility_id: str = Field(primary_key=True, max_length=120)
    offering_id: str = Field(primary_key=True, max_length=120)
    service_type: str = Field(index=True, max_length=120)
    unit: str = Field(max_length=10)
    market_price_eur: Decimal = Field(sa_column=Column(Numeric(14, 2), nullable=False))
    access_modes: str = Field(default="[]", sa_column=Column(Text, nullable=False))


class SlotRow(SQLModel, table=True):
    __tablename__ = "alloc_slot"
    facility_id: str = Field(primary_key=True, max_length=120)
    slot_id: str = Field(primary_key=True, max_length=120)
    offering_id: str = Field(default="", max_length=120)
    start: datetime | None = None
    end: datetime | None = None
    capacity_units: int = 0
    held_units: int = 0
    booked_units: int = 0
    # Publication and withdrawal are tracked apart, each by the newest facility sequence seen,
    # so the projection is the same whatever order duplicates and stragglers arrive in.
    published_sequence: int = -1
    withdrawn_sequence: int = -1
    withdrawn: bool = False  # = withdrawn_sequence > published_sequence


class HoldRow(SQLModel, table=True):
    __tablename__ = "alloc_hold"
    application_id: str = Field(primary_key=True, max_length=200)
    # held | confirmed | released | expired | invalidated
    status: str = Field(max_length=20, index=True)
    expires_at: datetime = Field(index=True)
    applicant_country: str = Field(default="", max_length=2)
    placed_json: str = Field(sa_column=Column(Text, nullable=False))  # the HoldPlaced body
    created_at: datetime = Field(default_factory=utcnow)


class HoldLineRow(SQLModel, table=True):
    __tablename__ = "alloc_hold_line"
    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(index=True, max_length=200)
    facility_id: str = Field(max_length=120)
    slot_id: str = Field(max_length=120)
    units: int
    delivered_units: int = 0  # reported by the facility; never more than `units`
    market_price_eur: Decimal = Field(default=Decimal(0), sa_column=Column(Numeric(14, 2)))


class DeliveryRow(SQLModel, table=True):
    __tablename__ = "alloc_delivery"
    facility_id: str = Field(primary_key=True, max_length=120)
    sequence: int = Field(primary_key=True)
    application_id: str = Field(index=True, max_length=200)
    slot_id: str
    units_delivered: int
    delivered_at: datetime


class RoundEntryRow(SQLModel, table=True):
    """A batch call's application waiting for the call's round (or decided by it)."""

    __tablename__ = "alloc_round_entry"
    application_id: str = Field(primary_key=True, max_length=200)
    call_id: str = Field(max_length=64, index=True)
    status: str = Field(max_length=20, index=True)  # queued | decided | withdrawn
    hold_json: str = Field(sa_column=Column(Text, nullable=False))  # the HoldRequested body
    queued_at: datetime = Field(default_factory=utcnow)


class RoundRow(SQLModel, table=True):
    """A batch call's round, once solved: later holds of the call are served first come."""

    __tablename__ = "alloc_round"
    call_id: str = Field(primary_key=True, max_length=64)
    round_id: str = Field(max_length=200)
    solved_at: datetime = Field(default_factory=utcnow)
    summary_json: str = Field(sa_column=Column(Text, nullable=False))  # the RoundSolved body
