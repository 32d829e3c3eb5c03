"""The transcript's first draft, published the moment an event ends: from the live captions.

The live captions' final lines are already `transcript_segments` rows (source "live"); at the end
they become `captions.vtt` / `captions.srt` and the event's search index at once, so the recording
is searchable seconds after the event instead of after the archive pass. The archive pass then
re-transcribes the recording and replaces the rows, files and index, each atomically (rows in one
transaction, files by rename, the index in one transaction), keeping lines staff corrected.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from archive import captions, search
from moderation.model import QuestionStatus
from server.db.engine import Database
from server.db.models import Chapter, Event, Question, SearchDoc, TranscriptSegment

# Questions that reached the expert: answered, or being answered when the event ended.
ANSWERED = (QuestionStatus.ANSWERED.value, QuestionStatus.ANSWERING.value)


async def transcript_lines(session: AsyncSession, event_id: int) -> list[TranscriptSegment]:
    rows = await session.execute(
        select(TranscriptSegment).where(TranscriptSegment.event_id == event_id).order_by(TranscriptSegment.start)
    )
    return list(rows.scalars())


async def search_docs(session: AsyncSession, event: Event) -> list[search.Doc]:
    """What the search index holds for an event: transcript lines, answered questions, typed answers."""
    docs = [
        search.Doc(search.DocKind.TRANSCRIPT, ln.id, ln.start, ln.text)
        for ln in await transcript_lines(session, event.id)
    ]
    starts = {
        c.question_id: c.start
        for c in (await session.execute(select(Chapter).where(Chapter.event_id == event.id))).scalars()
    }
    questions = (
        await session.execute(select(Question).where(Question.event_id == event.id, Question.status.in_(ANSWERED)))
    ).scalars()
    for q in questions:
        docs.append(search.Doc(search.DocKind.QUESTION, q.id, starts.get(q.id), q.text))
        if q.answer_text:
            docs.append(search.Doc(search.DocKind.ANSWER, q.id, starts.get(q.id), q.answer_text))
    return docs


async def write_caption_files(lines: list[TranscriptSegment], directory: Path) -> None:
    cues = [captions.Cue(ln.start, ln.end, ln.text) for ln in lines]
    await asyncio.to_thread(captions.write_atomic, directory / captions.CAPTIONS_VTT, captions.webvtt(cues))
    await asyncio.to_thread(captions.write_atomic, directory / captions.CAPTIONS_SRT, captions.srt(cues))


async def publish_draft(db: Database, event_id: int, directory: Path) -> int:
    """captions.vtt/.srt and the search index from the transcript rows as they are; returns the line count.

    The live captions index each line as they store it, so usually only the answered questions are
    indexed here; when the lines and their documents differ (a restart, a failed write), all of it."""
    async with db.session() as session:
        event = await session.get(Event, event_id)
        if event is None:
            return 0
        lines = await transcript_lines(session, event_id)
        indexed = (
            await session.execute(
                select(func.count(SearchDoc.id)).where(
                    SearchDoc.event_id == event_id, SearchDoc.kind == search.DocKind.TRANSCRIPT
                )
            )
        ).scalar_one()
        docs = await search_docs(session, event)
        if indexed == len(lines):
            kinds = (search.DocKind.QUESTION, search.DocKind.ANSWER)
            await search.index_event(session, event_id, [d for d in docs if d.kind in kinds], kinds)
        else:
            await search.index_event(session, event_id, docs)
        await session.commit()
    if lines:
        await write_caption_files(lines, directory)
    return len(lines)
