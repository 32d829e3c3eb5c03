"""What a command caused: domain events to publish, audit entries to store, and the changed questions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from moderation.model import Question, QuestionStatus

EVENT_TYPES = frozenset(
    {
        "question.submitted",
        "question.approved",
        "question.updated",
        "question.rejected",
        "question.merged",
        "question.answering",
        "question.answered",
        "question.reopened",
        "question.withdrawn",
        "question.votes",
        "question.pinned",
        "question.reordered",
        "participant.standing",
        "event.mode",
    }
)


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened; the service publishes it after commit.

    ``notify`` lists participants who get a personal notice (the askers, when their question's fate changes).
    """

    type: str
    question: Question | None = None
    previous_status: QuestionStatus | None = None
    notify: frozenset[int] = frozenset()
    data: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEntry:
    """Who did what, when and why; one per moderator or expert action."""

    actor_id: int
    action: str
    at: float
    question_id: int | None = None
    participant_id: int | None = None
    reason: str | None = None
    before: Mapping[str, object] = field(default_factory=dict)
    after: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """The result of a command: every changed question (new values), the events, the audit entries."""

    questions: tuple[Question, ...] = ()
    events: tuple[DomainEvent, ...] = ()
    audit: tuple[AuditEntry, ...] = ()


def snapshot(q: Question) -> dict[str, object]:
    """The fields of ``q`` an auditor compares before and after an action."""
    return {
        "status": q.status.value,
        "text": q.text,
        "pinned": q.pinned,
        "position": q.position,
        "votes": q.votes,
        "merged_into": q.merged_into,
        "reason_code": None if q.reason_code is None else q.reason_code.value,
        "reason_text": q.reason_text,
        "answer_text": q.answer_text,
    }


def audited(
    actor_id: int,
    action: str,
    at: float,
    before: Question,
    after: Question,
    reason: str | None = None,
    extra: Mapping[str, object] | None = None,
) -> AuditEntry:
    """An audit entry for an action on one question; ``extra`` adds to the after-snapshot."""
    return AuditEntry(
        actor_id=actor_id,
        action=action,
        at=at,
        question_id=after.id,
        reason=reason,
        before=snapshot(before),
        after={**snapshot(after), **(extra or {})},
    )
