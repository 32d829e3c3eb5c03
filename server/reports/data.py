"""Loads one event's rows as the plain values archive/report.py computes over."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from archive.attendance import Span, span_end
from archive.report import Action, Asked, EventFacts, Person, Report, build
from archive.training import Record, Rule, records
from polls.scoring import Score
from server.db import models
from server.stakeholders import STAKEHOLDERS

# An open span whose process has not refreshed it for this many flush intervals belongs to a process that
# died: it ends where it was last seen.
STALE_FLUSHES = 3


def ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


@dataclass(frozen=True)
class EventData:
    event: EventFacts
    people: tuple[Person, ...]
    questions: tuple[Asked, ...]
    actions: tuple[Action, ...]
    spans: tuple[Span, ...]
    raw_spans: tuple[tuple[str, Any, float], ...]  # (viewer, span row, resolved end)
    now: float = 0.0  # when the rows were read: an open span whose end is now is still going


def facts(event: models.Event) -> EventFacts:
    return EventFacts(
        slug=event.slug,
        kind=event.kind,
        state=event.state,
        title_zh=event.title_zh,
        title_en=event.title_en,
        topics=tuple(event.topics or ()),
        starts_at=ts(event.starts_at),
        live_from=ts(event.went_live_at),
        live_to=ts(event.ended_at),
    )


SPAN_COLUMNS = (
    models.AttendanceSpan.id,
    models.AttendanceSpan.participant_id,
    models.AttendanceSpan.visitor,
    models.AttendanceSpan.mode,
    models.AttendanceSpan.started_at,
    models.AttendanceSpan.ended_at,
    models.AttendanceSpan.seen_at,
)


def viewer_key(row: Any, joined_from: dict[str, int] | None = None) -> str:
    """A span's viewer; an anonymous browser's visits belong to the participant who joined from it."""
    if row.participant_id is not None:
        return f"p:{row.participant_id}"
    if row.visitor:
        owner = (joined_from or {}).get(row.visitor)
        return f"p:{owner}" if owner is not None else f"v:{row.visitor}"
    return f"c:{row.id}"


def visitors(people: list[models.Participant]) -> dict[str, int]:
    """visitor id → the first participant who joined from that browser (a shared computer: the first)."""
    out: dict[str, int] = {}
    for p in sorted(people, key=lambda p: p.id):
        if p.visitor:
            out.setdefault(p.visitor, p.id)
    return out


async def load(
    session: AsyncSession, event: models.Event, *, now: float, flush_seconds: float, only: int | None = None
) -> EventData:
    """Every row of the event, or with `only` just that participant's (their record, not the report)."""
    eid = event.id
    people_q = select(models.Participant).where(models.Participant.event_id == eid)
    questions_q = select(models.Question).where(models.Question.event_id == eid)
    audit_q = select(models.AuditLog).where(models.AuditLog.event_id == eid)
    # Plain column rows, not ORM objects: an event of thousands of viewers has tens of thousands of spans.
    spans_q = select(*SPAN_COLUMNS).where(models.AttendanceSpan.event_id == eid)
    if only is not None:
        people_q = people_q.where(models.Participant.id == only)
        questions_q = questions_q.where(models.Question.asker_id == only)
        audit_q = audit_q.where(false())
        spans_q = spans_q.where(models.AttendanceSpan.participant_id == only)
    people = list((await session.execute(people_q)).scalars())
    joined_from = visitors(people)
    if only is not None and joined_from:
        spans_q = select(*SPAN_COLUMNS).where(
            models.AttendanceSpan.event_id == eid,
            or_(models.AttendanceSpan.participant_id == only, models.AttendanceSpan.visitor.in_(list(joined_from))),
        )
    questions = (await session.execute(questions_q)).scalars()
    audit = (await session.execute(audit_q)).scalars()
    span_rows = (await session.execute(spans_q.order_by(models.AttendanceSpan.id))).all()
    stale_after = STALE_FLUSHES * flush_seconds
    raw = []
    for row in span_rows:
        end = span_end(ts(row.ended_at), row.seen_at.timestamp(), now, stale_after)
        raw.append((viewer_key(row, joined_from), row, end))
    return EventData(
        event=facts(event),
        people=tuple(
            Person(p.id, p.role, p.name, p.organisation, p.stakeholder, p.anonymous, p.standing) for p in people
        ),
        questions=tuple(
            Asked(
                id=q.id,
                asker_id=q.asker_id,
                text=q.text,
                status=q.status,
                topic=q.topic,
                votes=q.votes,
                created_at=q.created_at.timestamp(),
                approved_at=ts(q.approved_at),
                answered_at=ts(q.answered_at),
                answer_text=q.answer_text,
                pre_submitted=q.pre_submitted,
                anonymous=q.anonymous,
                reason_code=q.reason_code,
            )
            for q in questions
        ),
        actions=tuple(Action(a.action, a.actor_id, a.at.timestamp(), dict(a.after or {})) for a in audit),
        spans=tuple(Span(viewer, row.mode, row.started_at.timestamp(), end) for viewer, row, end in raw),
        raw_spans=tuple(raw),
        now=now,
    )


def report(data: EventData, *, now: float, grace: float) -> Report:
    return build(
        data.event,
        data.people,
        data.questions,
        data.actions,
        data.spans,
        now=now,
        grace=grace,
        groups=tuple(STAKEHOLDERS),
    )


def training(
    event: models.Event,
    data: EventData,
    built: Report,
    quiz_required: bool = False,
    quiz: Mapping[int, Score] | None = None,
) -> list[Record] | None:
    """Every registered participant's record under the event's rule; None when the event keeps none.

    The rule is minutes watched, a passed quiz (server/polls/quiz.py), or both: an event whose organiser
    requires the quiz but set no minimum keeps records on the quiz alone."""
    if event.training_min_minutes is None and not quiz_required:
        return None
    asked = Counter(q.asker_id for q in data.questions)
    rule = Rule(event.training_min_minutes or 0, event.training_counts_replay, quiz_required=quiz_required)
    return records(data.people, built.watch, asked, rule, quiz)
