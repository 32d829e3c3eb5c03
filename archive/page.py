"""What the archive page shows (and GET /api/v1/events/{slug}/archive returns), and the Q&A CSV.

Everything here is public: the same questions a viewer saw during the event (answered ones), the
asker's name only when they did not ask anonymously.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from archive import captions
from archive.jobs import KINDS, JobKind, JobState
from archive.pipeline import ANSWERED, ARCHIVE_PLAYLIST, RECORDING
from moderation.model import asker_hidden
from server.db.models import ArchiveJob, Chapter, Event, Participant, Question, TranscriptSegment

# Files a person may download, by the name they have under /archive/{slug}/.
DOWNLOADS = {
    "mp4": RECORDING,
    "vtt": captions.CAPTIONS_VTT,
    "srt": captions.CAPTIONS_SRT,
    "chapters": captions.CHAPTERS_VTT,
}


@dataclass(frozen=True)
class QuestionRow:
    id: int
    text: str
    answer_text: str | None
    votes: int
    topic: str | None
    asker_name: str | None
    asker_organisation: str | None
    stakeholder: str | None
    asked_at: Any
    answered_at: Any
    seconds: float | None


async def answered_questions(session: AsyncSession, event: Event) -> list[QuestionRow]:
    starts = {
        c.question_id: c.start
        for c in (await session.execute(select(Chapter).where(Chapter.event_id == event.id))).scalars()
    }
    rows = (
        await session.execute(
            select(Question, Participant)
            .join(Participant, Participant.id == Question.asker_id, isouter=True)
            .where(Question.event_id == event.id, Question.status.in_(ANSWERED))
        )
    ).all()
    out = []
    for q, asker in rows:
        hidden = asker_hidden(q.anonymous, asker.anonymous if asker else None)
        out.append(
            QuestionRow(
                id=q.id,
                text=q.text,
                answer_text=q.answer_text,
                votes=q.votes,
                topic=q.topic,
                asker_name=None if hidden else asker.name,
                asker_organisation=None if hidden else asker.organisation,
                stakeholder=None if asker is None else asker.stakeholder,
                asked_at=q.created_at,
                answered_at=q.answered_at or q.answering_at,
                seconds=starts.get(q.id),
            )
        )
    # In the order they were answered on the recording; unplaced ones (no recording) by time.
    return sorted(out, key=lambda r: (r.seconds is None, r.seconds or 0.0, r.answered_at or r.asked_at, r.id))


def _status(jobs: Sequence[ArchiveJob]) -> dict[str, Any]:
    by_kind = {j.kind: j for j in jobs}
    listed = []
    for kind in KINDS:
        job = by_kind.get(kind)
        listed.append(
            {
                "kind": kind.value,
                "state": job.state if job else None,
                "progress": round(job.progress, 3) if job else 0.0,
                "attempts": job.attempts if job else 0,
                "error": job.error if job else None,
                "retry_at": job.run_after if job and job.state == JobState.QUEUED else None,
            }
        )
    settled = bool(jobs) and all(j.state in (JobState.DONE, JobState.FAILED) for j in jobs)
    return {"jobs": listed, "complete": settled, "started": bool(jobs)}


async def archive_view(session: AsyncSession, event: Event, media_dir: Path, base_url: str) -> dict[str, Any]:
    jobs = list((await session.execute(select(ArchiveJob).where(ArchiveJob.event_id == event.id))).scalars())
    done = {j.kind for j in jobs if j.state == JobState.DONE}
    directory = media_dir / event.slug
    root = f"{base_url}/archive/{event.slug}"
    files: dict[str, str | None] = {}
    for key, name in DOWNLOADS.items():
        files[key] = f"{root}/{name}" if (directory / name).is_file() else None
    files["hls"] = f"{root}/{ARCHIVE_PLAYLIST}" if JobKind.VOD in done else None
    files["screen_mp4"] = f"{root}/screen/{RECORDING}" if (directory / "screen" / RECORDING).is_file() else None
    files["qa_csv"] = f"{root}/qa.csv"
    transcript = (
        await session.execute(
            select(TranscriptSegment).where(TranscriptSegment.event_id == event.id).order_by(TranscriptSegment.start)
        )
    ).scalars()
    chapters = (
        await session.execute(select(Chapter).where(Chapter.event_id == event.id).order_by(Chapter.start))
    ).scalars()
    questions = await answered_questions(session, event)
    return {
        "event": {
            "slug": event.slug,
            "title_zh": event.title_zh,
            "title_en": event.title_en,
            "state": event.state,
            "went_live_at": event.went_live_at,
            "ended_at": event.ended_at,
            "topics": list(event.topics or []),
        },
        "status": _status(jobs),
        "files": files,
        "transcript": [{"start": s.start, "end": s.end, "language": s.language, "text": s.text} for s in transcript],
        "chapters": [
            {"question_id": c.question_id, "start": c.start, "end": c.end, "title": c.title} for c in chapters
        ],
        "questions": [
            {
                "id": q.id,
                "text": q.text,
                "answer_text": q.answer_text,
                "votes": q.votes,
                "topic": q.topic,
                "asker": None if q.asker_name is None else {"name": q.asker_name, "organisation": q.asker_organisation},
                "answered_at": q.answered_at,
                "seconds": q.seconds,
            }
            for q in questions
        ],
    }


CSV_COLUMNS = (
    "question_id",
    "question",
    "answer",
    "votes",
    "topic",
    "asker",
    "organisation",
    "stakeholder",
    "asked_at",
    "answered_at",
    "recording_time",
    "link",
)


def qa_csv(questions: Sequence[QuestionRow], event: Event, base_url: str) -> str:
    """UTF-8 with a BOM (Excel opens Chinese text correctly); formula-looking cells are defused."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for q in questions:
        link = f"{base_url}/e/{event.slug}/archive?q={q.id}"
        writer.writerow(
            [
                q.id,
                _cell(q.text),
                _cell(q.answer_text or ""),
                q.votes,
                _cell(q.topic or ""),
                _cell(q.asker_name or ""),
                _cell(q.asker_organisation or ""),
                q.stakeholder or "",
                q.asked_at.isoformat() if q.asked_at else "",
                q.answered_at.isoformat() if q.answered_at else "",
                captions.timestamp(q.seconds) if q.seconds is not None else "",
                link,
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet: a question must never run as one.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
