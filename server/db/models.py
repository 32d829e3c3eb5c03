"""SQLAlchemy 2 models. Alembic migrations in `migrations/` create exactly these tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both engines (SQLite stores no zone, so we put it back on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="scheduled")
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200), default="")
    description_zh: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime | None] = mapped_column(nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(nullable=True)
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Organiser-edited recogniser vocabulary per language: {"zh": [...], "en": [...]} (archive/glossary.py).
    glossary: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict, server_default="{}")
    moderation_mode: Mapped[str] = mapped_column(String(8), default="pre")
    join_policy: Mapped[str] = mapped_column(String(16), default="open")
    passcode_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    allow_anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    banned_words: Mapped[list[str]] = mapped_column(JSON, default=list)
    link_policy: Mapped[str] = mapped_column(String(8), default="hold")
    rate_limit_seconds: Mapped[float] = mapped_column(Float, default=30.0)
    # Training (see server/api/reports.py): None = this event keeps no training records.
    training_min_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    training_counts_replay: Mapped[bool] = mapped_column(Boolean, default=True)
    # Registered participants may ask before the event starts (marked pre-submitted).
    pre_questions: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    went_live_at: Mapped[datetime | None] = mapped_column(nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Participant(Base):
    """Anyone holding a token for one event: viewers who joined, experts and moderators who were invited."""

    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(80), default="")
    organisation: Mapped[str] = mapped_column(String(120), default="")
    stakeholder: Mapped[str | None] = mapped_column(String(24), nullable=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    standing: Mapped[str] = mapped_column(String(8), default="active")
    # Rotating the nonce invalidates every token issued for this participant.
    token_nonce: Mapped[str] = mapped_column(String(32))
    # A ban outlives joining again (server/services/people.py), and the browser's anonymous visits before
    # joining are this participant's (attendance): the browser's own random id, and the first
    # participant of the chain of joins made while holding an earlier token of this event (None: itself).
    visitor: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    lineage_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Optional, given at registration, for sending the certificate (SMTP_URL).
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)


class Question(Base):
    """A question as stored; `moderation.Question` is its domain value (see server/questions/mapping.py)."""

    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    asker_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    original_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    votes: Mapped[int] = mapped_column(Integer, default=0)
    askers: Mapped[list[int]] = mapped_column(JSON, default=list)
    reason_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("questions.id"), nullable=True)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[float | None] = mapped_column(Float, nullable=True)
    answering_at: Mapped[datetime | None] = mapped_column(nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    answer_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(nullable=True)
    pre_submitted: Mapped[bool] = mapped_column(Boolean, default=False)
    topic: Mapped[str | None] = mapped_column(String(40), nullable=True)
    duplicate_of: Mapped[int | None] = mapped_column(Integer, nullable=True)
    held_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Vote(Base):
    __tablename__ = "votes"

    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditLog(Base):
    """Every moderator and expert action: who, when, what, why, before and after."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: the admin token
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    question_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    participant_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class AttendanceSpan(Base):
    """One viewer on one page (live or replay) for a while; open while `ended_at` is None.

    Each process writes the spans of its own connections (server/attendance.py), refreshing `seen_at` of the
    open ones at every flush; reports merge overlapping spans of one viewer (archive/attendance.py).
    """

    __tablename__ = "attendance_spans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), nullable=True, index=True
    )
    # An anonymous browser's own random id (web/static/js/attendance.js), so its tabs count once.
    visitor: Mapped[str | None] = mapped_column(String(40), nullable=True)
    mode: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    seen_at: Mapped[datetime] = mapped_column()
    node: Mapped[str] = mapped_column(String(32), index=True)


class Certificate(Base):
    """A training record's certificate: the holder as registered, the minutes watched, a verification code."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), unique=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    organisation: Mapped[str] = mapped_column(String(120), default="")
    stakeholder: Mapped[str | None] = mapped_column(String(24), nullable=True)
    minutes: Mapped[int] = mapped_column(Integer)
    required_minutes: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)


# The archive's tables live in their own module; importing it here registers them on Base.metadata.
from server.db.archive_models import ArchiveJob, Chapter, SearchDoc, SearchTerm, TranscriptSegment  # noqa: E402

__all__ = [
    "ArchiveJob",
    "AttendanceSpan",
    "AuditLog",
    "Base",
    "Certificate",
    "Chapter",
    "Event",
    "Participant",
    "Question",
    "SearchDoc",
    "SearchTerm",
    "TranscriptSegment",
    "Vote",
]

# Polls, quizzes and the survey (server/polls/): registered on Base.metadata the same way.
from server.db.poll_models import Poll, PollAnswer, QuizSettings, SurveyAnswer  # noqa: E402

__all__ += ["Poll", "PollAnswer", "QuizSettings", "SurveyAnswer"]
