"""work item leases: which worker holds an email and until when, so a dead worker's email is taken again

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("work_items") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_work_items_claim", "work_items", ["status", "lease_until"])


def downgrade() -> None:
    op.drop_index("ix_work_items_claim", "work_items")
    with op.batch_alter_table("work_items") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
