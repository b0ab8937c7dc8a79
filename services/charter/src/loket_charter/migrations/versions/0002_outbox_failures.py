"""Outbox rows can fail for good (too large...) and remember the event that caused them.

Revision ID: 0002
Revises: 0001
"""

from loket_messaging.schema_ops import add_outbox_failures, drop_outbox_failures

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_failures()


def downgrade() -> None:
    drop_outbox_failures()
