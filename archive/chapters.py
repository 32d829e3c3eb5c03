"""Chapters from the Q&A: each answered question starts a chapter at the moment the expert pressed
"answering now", on the recording's clock, titled by the question.

A question marked answered without "answering now" starts at the moment it was marked. Moments
outside the recording (the stream not started yet, a publisher reconnecting) move to where the
recording shows them next. Without a recording there are no chapters, but the Q&A still stands.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from archive.captions import Cue
from archive.timeline import RecordingClock

MAX_TITLE_CHARS = 120


class AnsweredQuestion(Protocol):
    id: int
    text: str
    answering_at: datetime | None
    answered_at: datetime | None


@dataclass(frozen=True)
class ChapterSpec:
    question_id: int
    start: float
    end: float | None  # when it was marked answered, if after the start
    title: str


def build_chapters(questions: Iterable[AnsweredQuestion], clock: RecordingClock) -> list[ChapterSpec]:
    if not clock:
        return []
    out = []
    for q in questions:
        began = q.answering_at or q.answered_at
        if began is None:
            continue
        start = clock.seconds_at(began.timestamp())
        if start is None:
            continue
        end = clock.seconds_at(q.answered_at.timestamp()) if q.answered_at and q.answering_at else None
        out.append(ChapterSpec(q.id, round(start, 3), round(end, 3) if end and end > start else None, _title(q.text)))
    return sorted(out, key=lambda c: (c.start, c.question_id))


def _title(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= MAX_TITLE_CHARS else one_line[: MAX_TITLE_CHARS - 1] + "…"


def chapter_cues(chapters: Sequence[ChapterSpec], recording_end: float) -> list[Cue]:
    """One cue per chapter: until it was marked answered, else until the next chapter (or the end)."""
    cues = []
    for i, chapter in enumerate(chapters):
        following = chapters[i + 1].start if i + 1 < len(chapters) else recording_end
        end = chapter.end if chapter.end is not None else following
        cues.append(Cue(chapter.start, max(end, chapter.start + 1.0), chapter.title, id=f"q{chapter.question_id}"))
    return cues
