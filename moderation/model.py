"""Plain values of the question queue: statuses, roles, actors and questions."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class QuestionStatus(StrEnum):
    """Where a question is in its lifecycle (see ``lifecycle.ALLOWED``)."""

    PENDING = "pending"
    APPROVED = "approved"
    ANSWERING = "answering"
    ANSWERED = "answered"
    REJECTED = "rejected"
    MERGED = "merged"


class ModerationMode(StrEnum):
    """PRE: every question waits for a moderator. POST: clean questions go straight to the queue."""

    PRE = "pre"
    POST = "post"


class Role(StrEnum):
    """A participant's role in one event."""

    VIEWER = "viewer"
    EXPERT = "expert"
    MODERATOR = "moderator"
    ADMIN = "admin"


class Standing(StrEnum):
    """Whether a participant may still ask and vote."""

    ACTIVE = "active"
    MUTED = "muted"
    BANNED = "banned"


class RejectReason(StrEnum):
    """Why a moderator rejected a question; shown to the asker in their language."""

    OFF_TOPIC = "off_topic"
    DUPLICATE = "duplicate"
    INAPPROPRIATE = "inappropriate"
    SPAM = "spam"
    ANSWERED_ELSEWHERE = "answered_elsewhere"
    UNCLEAR = "unclear"
    OTHER = "other"


_STAFF = frozenset({Role.EXPERT, Role.MODERATOR, Role.ADMIN})
_MODERATORS = frozenset({Role.MODERATOR, Role.ADMIN})


@dataclass(frozen=True)
class Actor:
    """Who is acting, in the role they hold for this event."""

    participant_id: int
    role: Role
    standing: Standing = Standing.ACTIVE

    @property
    def is_staff(self) -> bool:
        """Experts, moderators and admins."""
        return self.role in _STAFF

    @property
    def can_moderate(self) -> bool:
        """Moderators and admins."""
        return self.role in _MODERATORS

    @property
    def is_active(self) -> bool:
        """Neither muted nor banned."""
        return self.standing is Standing.ACTIVE


@dataclass(frozen=True)
class Question:
    """One question of one event. ``askers`` always contains ``asker_id``."""

    id: int
    event_id: int
    asker_id: int
    text: str
    status: QuestionStatus
    created_at: float
    anonymous: bool = False
    votes: int = 0
    askers: frozenset[int] = field(default_factory=frozenset)
    original_text: str | None = None
    reason_code: RejectReason | None = None
    reason_text: str | None = None
    merged_into: int | None = None
    pinned: bool = False
    position: float | None = None
    answering_at: float | None = None
    answered_at: float | None = None
    answer_text: str | None = None
    approved_at: float | None = None
    pre_submitted: bool = False
    topic: str | None = None
    duplicate_of: int | None = None
    held_reason: str | None = None

    def __post_init__(self) -> None:
        # The asker is always one of the askers, so callers may omit ``askers`` for a fresh question.
        if self.asker_id not in self.askers:
            object.__setattr__(self, "askers", self.askers | {self.asker_id})


_PUBLIC = frozenset({QuestionStatus.APPROVED, QuestionStatus.ANSWERING, QuestionStatus.ANSWERED})


def is_public(status: QuestionStatus) -> bool:
    """True only for statuses viewers may see: approved, answering, answered."""
    return status in _PUBLIC


def asker_hidden(question_anonymous: bool, asker_anonymous: bool | None) -> bool:
    """Whether viewers, the archive and reports must not name the asker: the question was asked
    anonymously, the participant joined anonymously, or the asker is unknown (None)."""
    return question_anonymous or asker_anonymous is None or asker_anonymous
