"""live captions: transcript lines know where they came from and whether staff corrected them; per-event glossary

Revision ID: 0008_captions
Revises: 0007_polls
Create Date: 2026-12-06 20:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_captions"
down_revision = "0007_polls"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transcript_segments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=8), nullable=False, server_default="archive"))
        batch_op.add_column(sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("glossary", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("glossary")
    with op.batch_alter_table("transcript_segments", schema=None) as batch_op:
        batch_op.drop_column("edited_at")
        batch_op.drop_column("source")
