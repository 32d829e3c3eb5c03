"""The event report: attendance, questions and moderation, computed from plain rows (epoch seconds).

Definitions the report states on its page too:
- submitted: every question asked, pre-submitted ones included; approved: ever approved (a later rejection
  or merge does not undo it); answered, rejected, merged, pending: where the question ended up.
- answer rate: answered ÷ (submitted − rejected − merged), the share of distinct, acceptable questions the
  experts answered; None when there is nothing to divide by.
- time to answer: from submission (for a pre-submitted question: from the moment the event went live) to
  "answered"; the median over answered questions.
- live watch time counts only inside the live window (went live → ended), none before going live; replay time
  counts only after the end (before it there is no recording).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from archive.attendance import (
    LIVE,
    Concurrency,
    Interval,
    Span,
    Watch,
    by_viewer,
    concurrency,
    replay_window,
    watch_times,
)

PUBLIC = frozenset({"approved", "answering", "answered"})
TOP_QUESTIONS = 10


@dataclass(frozen=True)
class EventFacts:
    slug: str
    kind: str
    state: str
    title_zh: str
    title_en: str
    topics: tuple[str, ...]
    starts_at: float | None
    live_from: float | None
    live_to: float | None

    def live_window(self, now: float) -> Interval | None:
        if self.live_from is None:
            return None
        return (self.live_from, self.live_to if self.live_to is not None else max(now, self.live_from))


@dataclass(frozen=True)
class Person:
    id: int
    role: str
    name: str
    organisation: str
    stakeholder: str | None
    anonymous: bool
    standing: str = "active"

    @property
    def registered(self) -> bool:
        """A viewer the organiser can name: joined with a name, not anonymously."""
        return self.role == "viewer" and not self.anonymous and bool(self.name)


@dataclass(frozen=True)
class Asked:
    id: int
    asker_id: int
    text: str
    status: str
    topic: str | None
    votes: int
    created_at: float
    approved_at: float | None = None
    answered_at: float | None = None
    answer_text: str | None = None
    pre_submitted: bool = False
    anonymous: bool = False
    reason_code: str | None = None


@dataclass(frozen=True)
class Action:
    action: str
    actor_id: int | None
    at: float
    after: Mapping[str, object] = field(default_factory=dict)


# -- output ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupAttendance:
    key: str | None
    joined: int
    live_viewers: int
    replay_viewers: int
    live_seconds: float
    replay_seconds: float


@dataclass(frozen=True)
class Attendance:
    joined: int
    registered: int
    viewers: int
    live_viewers: int
    replay_viewers: int
    live_seconds: float
    replay_seconds: float
    average_live_seconds: float | None
    peak: int
    peak_at: float | None
    average_concurrent: float
    window: Interval | None
    step: float
    series: tuple[tuple[float, int], ...]
    by_stakeholder: tuple[GroupAttendance, ...]


@dataclass(frozen=True)
class Counts:
    key: str | None
    submitted: int = 0
    pre_submitted: int = 0
    approved: int = 0
    answered: int = 0
    rejected: int = 0
    merged: int = 0
    pending: int = 0

    @property
    def answer_rate(self) -> float | None:
        eligible = self.submitted - self.rejected - self.merged
        return self.answered / eligible if eligible > 0 else None


@dataclass(frozen=True)
class TopQuestion:
    id: int
    text: str
    votes: int
    status: str
    topic: str | None
    stakeholder: str | None
    asker: str | None  # None when asked anonymously
    organisation: str | None
    answer_text: str | None
    answered_at: float | None
    pre_submitted: bool


@dataclass(frozen=True)
class Questions:
    totals: Counts
    by_stakeholder: tuple[Counts, ...]
    by_topic: tuple[Counts, ...]
    median_answer_seconds: float | None
    median_approval_seconds: float | None
    # (bucket start, submitted in it, answered in it), on the same buckets as the viewers series
    timeline: tuple[tuple[float, int, int], ...]
    top: tuple[TopQuestion, ...]


@dataclass(frozen=True)
class Moderation:
    actions: tuple[tuple[str, int], ...]
    reject_reasons: tuple[tuple[str, int], ...]
    muted: int
    banned: int
    actors: int


@dataclass(frozen=True)
class Report:
    event: EventFacts
    generated_at: float
    attendance: Attendance
    questions: Questions
    moderation: Moderation
    watch: Mapping[str, Watch]


# -- computing ------------------------------------------------------------------------------------


def build(
    event: EventFacts,
    people: Sequence[Person],
    questions: Sequence[Asked],
    actions: Sequence[Action],
    spans: Iterable[Span],
    *,
    now: float,
    grace: float,
    groups: Sequence[str],
) -> Report:
    """`spans` have their ends resolved (archive.attendance.span_end); `groups` orders the stakeholder codes."""
    window = event.live_window(now)
    merged = by_viewer(spans, grace)
    watch = watch_times(merged, window, replay_window(window, event.live_to is not None))
    chart_window = window or _span_window(merged)
    # Before going live nobody watches live: visits to a scheduled event's page are no audience.
    live = (modes.get(LIVE, []) for modes in merged.values()) if window is not None else ()
    conc = concurrency(live, chart_window)
    attendance = _attendance(people, watch, conc, window, groups)
    return Report(
        event=event,
        generated_at=now,
        attendance=attendance,
        questions=_questions(event, people, questions, groups, chart_window, conc.step),
        moderation=_moderation(people, questions, actions),
        watch=watch,
    )


def _span_window(merged: Mapping[str, Mapping[str, list[Interval]]]) -> Interval:
    live = [i for modes in merged.values() for i in modes.get(LIVE, [])]
    if not live:
        return (0.0, 0.0)
    return (min(s for s, _ in live), max(e for _, e in live))


def _group_of(viewer: str, people: Mapping[int, Person]) -> str | None:
    if viewer.startswith("p:"):
        person = people.get(int(viewer[2:]))
        return person.stakeholder if person else None
    return None


def _attendance(
    people: Sequence[Person],
    watch: Mapping[str, Watch],
    conc: Concurrency,
    window: Interval | None,
    groups: Sequence[str],
) -> Attendance:
    by_id = {p.id: p for p in people}
    viewers = [p for p in people if p.role == "viewer"]
    live = [w for w in watch.values() if w.live > 0]
    replay = [w for w in watch.values() if w.replay > 0]
    rows = []
    for key in [*groups, None]:
        mine = [w for v, w in watch.items() if _group_of(v, by_id) == key]
        row = GroupAttendance(
            key=key,
            joined=sum(1 for p in viewers if p.stakeholder == key),
            live_viewers=sum(1 for w in mine if w.live > 0),
            replay_viewers=sum(1 for w in mine if w.replay > 0),
            live_seconds=sum(w.live for w in mine),
            replay_seconds=sum(w.replay for w in mine),
        )
        if key is not None or row.joined or row.live_viewers or row.replay_viewers:
            rows.append(row)
    live_seconds = sum(w.live for w in live)
    return Attendance(
        joined=len(viewers),
        registered=sum(1 for p in viewers if p.registered),
        viewers=sum(1 for w in watch.values() if w.live > 0 or w.replay > 0),
        live_viewers=len(live),
        replay_viewers=len(replay),
        live_seconds=live_seconds,
        replay_seconds=sum(w.replay for w in replay),
        average_live_seconds=live_seconds / len(live) if live else None,
        peak=conc.peak,
        peak_at=conc.peak_at,
        average_concurrent=conc.average,
        window=window,
        step=conc.step,
        series=conc.series,
        by_stakeholder=tuple(rows),
    )


def _count(key: str | None, questions: Iterable[Asked]) -> Counts:
    qs = list(questions)
    status = Counter(q.status for q in qs)
    return Counts(
        key=key,
        submitted=len(qs),
        pre_submitted=sum(1 for q in qs if q.pre_submitted),
        approved=sum(1 for q in qs if q.approved_at is not None or q.status in PUBLIC),
        answered=status["answered"],
        rejected=status["rejected"],
        merged=status["merged"],
        pending=status["pending"],
    )


def _questions(
    event: EventFacts,
    people: Sequence[Person],
    questions: Sequence[Asked],
    groups: Sequence[str],
    window: Interval,
    step: float,
) -> Questions:
    by_id = {p.id: p for p in people}

    def group(q: Asked) -> str | None:
        asker = by_id.get(q.asker_id)
        return asker.stakeholder if asker else None

    by_group = []
    for key in [*groups, None]:
        counts = _count(key, (q for q in questions if group(q) == key))
        if counts.submitted:
            by_group.append(counts)
    topics = list(event.topics) + sorted({q.topic for q in questions if q.topic and q.topic not in event.topics})
    by_topic = [_count(t, (q for q in questions if q.topic == t)) for t in topics]
    untagged = _count(None, (q for q in questions if not q.topic))
    if untagged.submitted:
        by_topic.append(untagged)

    answer_times = [
        max(0.0, q.answered_at - _asked_from(q, event))
        for q in questions
        if q.status == "answered" and q.answered_at is not None
    ]
    approval_times = [
        max(0.0, q.approved_at - q.created_at) for q in questions if q.approved_at is not None and not q.pre_submitted
    ]
    lo, hi = window
    buckets = max(0, math.ceil((hi - lo) / step))
    asked, answered = [0] * buckets, [0] * buckets
    for q in questions:
        for tally, t in ((asked, q.created_at), (answered, q.answered_at)):
            if t is not None and lo <= t < lo + buckets * step:
                tally[int((t - lo) // step)] += 1
    timeline = [(lo + k * step, asked[k], answered[k]) for k in range(buckets)]

    public = sorted((q for q in questions if q.status in PUBLIC), key=lambda q: (-q.votes, q.created_at, q.id))
    top = []
    for q in public[:TOP_QUESTIONS]:
        asker = by_id.get(q.asker_id)
        hidden = q.anonymous or asker is None or asker.anonymous
        top.append(
            TopQuestion(
                id=q.id,
                text=q.text,
                votes=q.votes,
                status=q.status,
                topic=q.topic,
                stakeholder=asker.stakeholder if asker else None,
                asker=None if hidden or asker is None else asker.name,
                organisation=None if hidden or asker is None else asker.organisation,
                answer_text=q.answer_text,
                answered_at=q.answered_at,
                pre_submitted=q.pre_submitted,
            )
        )
    return Questions(
        totals=_count(None, questions),
        by_stakeholder=tuple(by_group),
        by_topic=tuple(by_topic),
        median_answer_seconds=statistics.median(answer_times) if answer_times else None,
        median_approval_seconds=statistics.median(approval_times) if approval_times else None,
        timeline=tuple(timeline),
        top=tuple(top),
    )


def _asked_from(q: Asked, event: EventFacts) -> float:
    if q.pre_submitted and event.live_from is not None:
        return max(q.created_at, event.live_from)
    return q.created_at


def _moderation(people: Sequence[Person], questions: Sequence[Asked], actions: Sequence[Action]) -> Moderation:
    counted = Counter(a.action for a in actions)
    reasons = Counter(q.reason_code or "other" for q in questions if q.status == "rejected")
    return Moderation(
        actions=tuple(sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))),
        reject_reasons=tuple(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        muted=sum(1 for p in people if p.standing == "muted"),
        banned=sum(1 for p in people if p.standing == "banned"),
        actors=len({a.actor_id for a in actions}),
    )


# -- JSON -----------------------------------------------------------------------------------------


def iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def question_link(base_url: str, slug: str, question_id: int) -> str:
    """The moment in the recording: the archive page resolves a question to its chapter."""
    return f"{base_url}/e/{quote(slug)}/archive?q={question_id}"


def _counts_json(c: Counts, name: str) -> dict[str, Any]:
    return {
        name: c.key,
        "submitted": c.submitted,
        "pre_submitted": c.pre_submitted,
        "approved": c.approved,
        "answered": c.answered,
        "rejected": c.rejected,
        "merged": c.merged,
        "pending": c.pending,
        "answer_rate": None if c.answer_rate is None else round(c.answer_rate, 4),
    }


def as_json(report: Report, base_url: str) -> dict[str, Any]:
    e, a, q, m = report.event, report.attendance, report.questions, report.moderation
    return {
        "event": {
            "slug": e.slug,
            "kind": e.kind,
            "state": e.state,
            "title_zh": e.title_zh,
            "title_en": e.title_en,
            "topics": list(e.topics),
            "starts_at": iso(e.starts_at),
            "went_live_at": iso(e.live_from),
            "ended_at": iso(e.live_to),
        },
        "generated_at": iso(report.generated_at),
        "attendance": {
            "joined": a.joined,
            "registered": a.registered,
            "viewers": a.viewers,
            "live_viewers": a.live_viewers,
            "replay_viewers": a.replay_viewers,
            "live_minutes": minutes(a.live_seconds),
            "replay_minutes": minutes(a.replay_seconds),
            "average_live_minutes": minutes(a.average_live_seconds),
            "peak_concurrent": a.peak,
            "peak_at": iso(a.peak_at),
            "average_concurrent": round(a.average_concurrent, 2),
            "by_stakeholder": [
                {
                    "stakeholder": g.key,
                    "joined": g.joined,
                    "live_viewers": g.live_viewers,
                    "replay_viewers": g.replay_viewers,
                    "live_minutes": minutes(g.live_seconds),
                    "replay_minutes": minutes(g.replay_seconds),
                }
                for g in a.by_stakeholder
            ],
            "step_seconds": a.step,
            "viewers_over_time": [{"t": iso(t), "viewers": n} for t, n in a.series],
        },
        "questions": {
            **{k: v for k, v in _counts_json(q.totals, "_").items() if k != "_"},
            "median_answer_seconds": q.median_answer_seconds,
            "median_approval_seconds": q.median_approval_seconds,
            "by_stakeholder": [_counts_json(c, "stakeholder") for c in q.by_stakeholder],
            "by_topic": [_counts_json(c, "topic") for c in q.by_topic],
            "over_time": [{"t": iso(t), "submitted": s, "answered": n} for t, s, n in q.timeline],
            "top": [
                {
                    "id": t.id,
                    "text": t.text,
                    "votes": t.votes,
                    "status": t.status,
                    "topic": t.topic,
                    "stakeholder": t.stakeholder,
                    "asker": t.asker,
                    "organisation": t.organisation,
                    "answer_text": t.answer_text,
                    "answered_at": iso(t.answered_at),
                    "pre_submitted": t.pre_submitted,
                    "link": question_link(base_url, e.slug, t.id),
                }
                for t in q.top
            ],
        },
        "moderation": {
            "actions": dict(m.actions),
            "reject_reasons": dict(m.reject_reasons),
            "muted": m.muted,
            "banned": m.banned,
            "actors": m.actors,
        },
    }
