"""attendance spans, certificates, training and pre-event question settings

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attendance_spans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("visitor", sa.String(length=40), nullable=True),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("node", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("attendance_spans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attendance_spans_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attendance_spans_node"), ["node"], unique=False)
        batch_op.create_index(batch_op.f("ix_attendance_spans_participant_id"), ["participant_id"], unique=False)

    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("organisation", sa.String(length=120), nullable=False),
        sa.Column("stakeholder", sa.String(length=24), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("required_minutes", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
        sa.UniqueConstraint("participant_id"),
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificates_event_id"), ["event_id"], unique=False)

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("training_min_minutes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("training_counts_replay", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("pre_questions", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("pre_questions")
        batch_op.drop_column("training_counts_replay")
        batch_op.drop_column("training_min_minutes")

    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificates_event_id"))

    op.drop_table("certificates")
    with op.batch_alter_table("attendance_spans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attendance_spans_participant_id"))
        batch_op.drop_index(batch_op.f("ix_attendance_spans_node"))
        batch_op.drop_index(batch_op.f("ix_attendance_spans_event_id"))

    op.drop_table("attendance_spans")
