"""bans outlive joining again: participants carry the browser's visitor id and their join lineage

Revision ID: 0005_bans
Revises: 0004
Create Date: 2026-12-06 20:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_bans"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("participants") as batch_op:
        batch_op.add_column(sa.Column("visitor", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("lineage_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_participants_visitor"), ["visitor"], unique=False)
        batch_op.create_index(batch_op.f("ix_participants_lineage_id"), ["lineage_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("participants") as batch_op:
        batch_op.drop_index(batch_op.f("ix_participants_lineage_id"))
        batch_op.drop_index(batch_op.f("ix_participants_visitor"))
        batch_op.drop_column("lineage_id")
        batch_op.drop_column("visitor")
