"""approvals carry their risk tier and who edited the draft; customers carry strategic and credit-risk flags

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.add_column(sa.Column("tier", sa.String(10), nullable=False, server_default="low"))
        batch.add_column(sa.Column("edited_by", sa.String(200), nullable=True))
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("strategic", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("credit_risk", sa.String(10), nullable=False, server_default="normal"))


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("credit_risk")
        batch.drop_column("strategic")
    with op.batch_alter_table("approvals") as batch:
        batch.drop_column("edited_by")
        batch.drop_column("tier")
