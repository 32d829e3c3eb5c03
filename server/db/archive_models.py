"""Tables of the archive (see archive/): its jobs, the transcript, chapters and the search index.

Imported at the end of `server.db.models`, so `Base.metadata` (and Alembic) always sees them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models import Base, utcnow


class ArchiveJob(Base):
    """One step of an event's archive (vod, mp4, transcript, chapters, search): the source of truth
    for its state whatever runs it (the in-process runner or Redis-backed workers)."""

    __tablename__ = "archive_jobs"
    __table_args__ = (UniqueConstraint("event_id", "kind", name="uq_archive_jobs_event_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    worker: Mapped[str | None] = mapped_column(String(80), nullable=True)
    run_after: Mapped[datetime | None] = mapped_column(nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(nullable=True)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)


class TranscriptSegment(Base):
    """One line of an event's transcript, timed on the recording's clock (seconds)."""

    __tablename__ = "transcript_segments"
    __table_args__ = (Index("ix_transcript_segments_event_start", "event_id", "start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    # "live": a final caption of the live event (the archive's first draft); "archive": the archive pass.
    source: Mapped[str] = mapped_column(String(8), default="archive", server_default="archive")
    # Set when staff corrected the line: the archive pass keeps it instead of its own reading.
    edited_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Chapter(Base):
    """An answered question as a chapter: where in the recording the expert began answering it."""

    __tablename__ = "chapters"
    __table_args__ = (UniqueConstraint("event_id", "question_id", name="uq_chapters_event_question"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float | None] = mapped_column(Float, nullable=True)
    title: Mapped[str] = mapped_column(Text)


class SearchDoc(Base):
    """A searchable piece of an archived event: a transcript line, a question, or a typed answer."""

    __tablename__ = "search_docs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    ref_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    text: Mapped[str] = mapped_column(Text)
    # `text` normalised (NFKC, case-folded, Simplified): what matching is checked against.
    folded: Mapped[str] = mapped_column(Text)


class SearchTerm(Base):
    """Posting list: a term (CJK character bigram, a run's last character, or a word) → a document."""

    __tablename__ = "search_terms"

    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    doc_id: Mapped[int] = mapped_column(ForeignKey("search_docs.id", ondelete="CASCADE"), primary_key=True)
    __table_args__ = (Index("ix_search_terms_doc_id", "doc_id"),)
