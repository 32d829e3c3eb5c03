"""Rows ↔ domain values, and what each audience may see of a question."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from moderation.model import Question, QuestionStatus, RejectReason, asker_hidden
from server.db import models


def ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def to_domain(row: models.Question | Any) -> Question:
    """`row`: a Question row, or anything with its attributes (the hot commands' plain rows)."""
    return Question(
        id=row.id,
        event_id=row.event_id,
        asker_id=row.asker_id,
        text=row.text,
        status=QuestionStatus(row.status),
        created_at=row.created_at.timestamp(),
        anonymous=row.anonymous,
        votes=row.votes,
        askers=frozenset(row.askers or [row.asker_id]),
        original_text=row.original_text,
        reason_code=RejectReason(row.reason_code) if row.reason_code else None,
        reason_text=row.reason_text,
        merged_into=row.merged_into,
        pinned=row.pinned,
        position=row.position,
        answering_at=ts(row.answering_at),
        answered_at=ts(row.answered_at),
        answer_text=row.answer_text,
        approved_at=ts(row.approved_at),
        pre_submitted=row.pre_submitted,
        topic=row.topic,
        duplicate_of=row.duplicate_of,
        held_reason=row.held_reason,
    )


def row_values(q: Question) -> dict[str, Any]:
    """A domain value as the row's column values (all but id, event, asker and the timestamps of the row)."""
    return {
        "text": q.text,
        "original_text": q.original_text,
        "status": q.status.value,
        "anonymous": q.anonymous,
        "votes": q.votes,
        "askers": sorted(q.askers),
        "reason_code": q.reason_code.value if q.reason_code else None,
        "reason_text": q.reason_text,
        "merged_into": q.merged_into,
        "pinned": q.pinned,
        "position": q.position,
        "answering_at": dt(q.answering_at),
        "answered_at": dt(q.answered_at),
        "answer_text": q.answer_text,
        "approved_at": dt(q.approved_at),
        "pre_submitted": q.pre_submitted,
        "topic": q.topic,
        "duplicate_of": q.duplicate_of,
        "held_reason": q.held_reason,
    }


def apply(row: models.Question, q: Question) -> None:
    """Copy a domain value onto its row (the row's id and event never change)."""
    for name, value in row_values(q).items():
        setattr(row, name, value)


def new_row(q: Question) -> models.Question:
    row = models.Question(id=None, event_id=q.event_id, asker_id=q.asker_id, created_at=dt(q.created_at))
    apply(row, q)
    return row


def _asker(p: models.Participant | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"id": p.id, "name": p.name, "organisation": p.organisation, "stakeholder": p.stakeholder}


def public_view(q: Question, asker: models.Participant | None) -> dict[str, Any]:
    """What every viewer sees: never the identity of an anonymous asker, never moderation details."""
    hidden = asker_hidden(q.anonymous, asker.anonymous if asker else None)
    shown = None if hidden else _asker(asker)
    if shown is not None:
        shown.pop("id")
    return {
        "id": q.id,
        "text": q.text,
        "status": q.status.value,
        "votes": q.votes,
        "created_at": q.created_at,
        "anonymous": hidden,
        "asker": shown,
        "pinned": q.pinned,
        "position": q.position,
        "topic": q.topic,
        "answering_at": q.answering_at,
        "answered_at": q.answered_at,
        "answer_text": q.answer_text,
    }


def staff_view(q: Question, asker: models.Participant | None) -> dict[str, Any]:
    """What moderators and experts see: everything, including who asked (even when anonymous to others)."""
    view = public_view(q, asker)
    view.update(
        asker=_asker(asker),
        asker_standing=asker.standing if asker else None,
        original_text=q.original_text,
        reason_code=q.reason_code.value if q.reason_code else None,
        reason_text=q.reason_text,
        merged_into=q.merged_into,
        approved_at=q.approved_at,
        pre_submitted=q.pre_submitted,
        duplicate_of=q.duplicate_of,
        held_reason=q.held_reason,
        askers=sorted(q.askers),
    )
    return view


def mine_view(q: Question) -> dict[str, Any]:
    """What the asker sees of their own question, whatever its status."""
    return {
        "id": q.id,
        "text": q.text,
        "status": q.status.value,
        "votes": q.votes,
        "created_at": q.created_at,
        "reason_code": q.reason_code.value if q.reason_code else None,
        "reason_text": q.reason_text,
        "merged_into": q.merged_into,
        "answer_text": q.answer_text,
        "held_reason": q.held_reason,
    }
