"""The order questions are shown in, for viewers and for staff."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from moderation.model import Question, QuestionStatus, is_public

_S = QuestionStatus


class Sort(StrEnum):
    """How the open part of the queue is ordered."""

    POPULAR = "popular"
    RECENT = "recent"


# Open questions (pending, approved) sit between the one being answered and the finished ones.
_GROUP = {
    _S.ANSWERING: 0,
    _S.PENDING: 1,
    _S.APPROVED: 1,
    _S.ANSWERED: 2,
    _S.REJECTED: 3,
    _S.MERGED: 4,
}

_Key = tuple[float, ...]


def _key(q: Question, sort: Sort) -> _Key:
    group = _GROUP[q.status]
    if group == 1:
        if q.pinned:
            return (1, 0, q.created_at, q.id)
        if q.position is not None:
            return (1, 1, q.position, *_open_key(q, sort))
        return (1, 2, *_open_key(q, sort))
    if group == 2:
        finished = q.answered_at if q.answered_at is not None else q.created_at
        return (2, -finished, -q.id)
    return (group, -q.created_at, -q.id)


def _open_key(q: Question, sort: Sort) -> _Key:
    if sort is Sort.POPULAR:
        return (-q.votes, q.created_at, q.id)
    return (-q.created_at, -q.id)


def ranked(questions: Iterable[Question], sort: Sort) -> list[Question]:
    """Answering first; then pinned; then manually placed (position ascending); then the rest by ``sort``
    (POPULAR: votes desc, oldest first; RECENT: newest first); then answered, most recent first; rejected
    and merged last. Ties fall back to the id, so the order never depends on the input order."""
    return sorted(questions, key=lambda q: _key(q, sort))


def public_queue(questions: Iterable[Question], sort: Sort) -> list[Question]:
    """``ranked`` over the questions viewers may see."""
    return ranked((q for q in questions if is_public(q.status)), sort)
