"""archive: jobs, transcript, chapters, search index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 19:59:15
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
        "archive_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(length=80), nullable=True),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "kind", name="uq_archive_jobs_event_kind"),
    )
    with op.batch_alter_table("archive_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_archive_jobs_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_archive_jobs_state"), ["state"], unique=False)

    op.create_table(
        "search_docs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("folded", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("search_docs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_search_docs_event_id"), ["event_id"], unique=False)

    op.create_table(
        "transcript_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("transcript_segments", schema=None) as batch_op:
        batch_op.create_index("ix_transcript_segments_event_start", ["event_id", "start"], unique=False)

    op.create_table(
        "search_terms",
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.Column("doc_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["doc_id"], ["search_docs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("term", "doc_id"),
    )
    with op.batch_alter_table("search_terms", schema=None) as batch_op:
        batch_op.create_index("ix_search_terms_doc_id", ["doc_id"], unique=False)

    op.create_table(
        "chapters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "question_id", name="uq_chapters_event_question"),
    )
    with op.batch_alter_table("chapters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chapters_event_id"), ["event_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("chapters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chapters_event_id"))

    op.drop_table("chapters")
    with op.batch_alter_table("search_terms", schema=None) as batch_op:
        batch_op.drop_index("ix_search_terms_doc_id")

    op.drop_table("search_terms")
    with op.batch_alter_table("transcript_segments", schema=None) as batch_op:
        batch_op.drop_index("ix_transcript_segments_event_start")

    op.drop_table("transcript_segments")
    with op.batch_alter_table("search_docs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_docs_event_id"))

    op.drop_table("search_docs")
    with op.batch_alter_table("archive_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_archive_jobs_state"))
        batch_op.drop_index(batch_op.f("ix_archive_jobs_event_id"))

    op.drop_table("archive_jobs")
