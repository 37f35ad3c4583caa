"""indexes for the approval queue: pending by age, and by risk tier

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 13:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_approvals_status_requested", "approvals", ["status", "requested_at"])
    op.create_index("ix_approvals_status_tier", "approvals", ["status", "tier"])


def downgrade() -> None:
    op.drop_index("ix_approvals_status_tier", "approvals")
    op.drop_index("ix_approvals_status_requested", "approvals")
