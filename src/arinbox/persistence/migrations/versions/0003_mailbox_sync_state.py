"""mailbox adapters keep their cursors in the database; stored messages remember how they were settled

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailbox_sync_state",
        sa.Column("mailbox_name", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("raw_messages") as batch:
        batch.add_column(sa.Column("settled_outcome", sa.String(20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("raw_messages") as batch:
        batch.drop_column("settled_outcome")
    op.drop_table("mailbox_sync_state")
