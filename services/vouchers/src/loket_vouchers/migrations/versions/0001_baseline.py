"""Baseline: the vouchers schema as first released (before migrations existed).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from loket_messaging.schema_ops import create_messaging_tables, drop_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables()
    op.create_table(
        "vch_aid",
        sa.Column("application_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("undertaking_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("call_id", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("priority_area", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("instrument", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("intensity", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("aid_element_eur", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("co_payment_eur", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column(
            "de_minimis_headroom_after_eur", sa.Numeric(precision=14, scale=2), nullable=False
        ),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("hold_expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("grant_date", sa.Date(), nullable=False),
        sa.Column("scheme_version", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("legal_source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("voucher_id", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column("market_value_eur", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("redeemed_market_eur", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("redeemed_eur", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("aid_at_issue_eur", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("voucher_state", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("closed_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("application_id"),
    )
    op.create_index(
        op.f("ix_vch_aid_hold_expires_at"), "vch_aid", ["hold_expires_at"], unique=False
    )
    op.create_index(op.f("ix_vch_aid_status"), "vch_aid", ["status"], unique=False)
    op.create_index(op.f("ix_vch_aid_undertaking_id"), "vch_aid", ["undertaking_id"], unique=False)
    op.create_table(
        "vch_call_budget",
        sa.Column("call_id", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("priority_area", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("total_eur", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("reserved_eur", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("granted_eur", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.PrimaryKeyConstraint("call_id", "priority_area"),
    )
    op.create_table(
        "vch_declared_aid",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("undertaking_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("granted_on", sa.Date(), nullable=False),
        sa.Column("amount_eur", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("instrument", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_vch_declared_aid_application_id"),
        "vch_declared_aid",
        ["application_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_vch_declared_aid_undertaking_id"),
        "vch_declared_aid",
        ["undertaking_id"],
        unique=False,
    )
    op.create_table(
        "vch_redemption",
        sa.Column("delivery_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("application_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("market_value_eur", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("redeemed_eur", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id"),
    )
    op.create_index(
        op.f("ix_vch_redemption_application_id"), "vch_redemption", ["application_id"], unique=False
    )
    op.create_table(
        "vch_undertaking",
        sa.Column("undertaking_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("undertaking_id"),
    )


def downgrade() -> None:
    op.drop_table("vch_undertaking")
    op.drop_index(op.f("ix_vch_redemption_application_id"), table_name="vch_redemption")
    op.drop_table("vch_redemption")
    op.drop_index(op.f("ix_vch_declared_aid_undertaking_id"), table_name="vch_declared_aid")
    op.drop_index(op.f("ix_vch_declared_aid_application_id"), table_name="vch_declared_aid")
    op.drop_table("vch_declared_aid")
    op.drop_table("vch_call_budget")
    op.drop_index(op.f("ix_vch_aid_undertaking_id"), table_name="vch_aid")
    op.drop_index(op.f("ix_vch_aid_status"), table_name="vch_aid")
    op.drop_index(op.f("ix_vch_aid_hold_expires_at"), table_name="vch_aid")
    op.drop_table("vch_aid")
    drop_messaging_tables()
