"""Staff corrections of caption lines, and the organiser's glossary: stored, audited, then published.

A correction changes the stored line (a transcript row) in one transaction with its audit entry
(action "caption.edit", before and after), then reaches every viewer as a `caption` frame with the
line's id and `edited: true`. Once the event has ended, captions.vtt and the search index follow at
once. A corrected line is kept by the archive pass (archive/pipeline.py) instead of its own reading.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from archive import search
from archive.draft import transcript_lines, write_caption_files
from archive.glossary import clean_terms, hotwords
from server.auth import Principal
from server.captions.service import CaptionService, caption_view
from server.db import models
from server.db.engine import Database
from server.errors import not_found
from server.lifecycle import EventState
from server.questions.publisher import Publisher

EDIT_ACTION = "caption.edit"
GLOSSARY_ACTION = "glossary.edit"
LANGUAGES = ("zh", "en")


async def correct_line(
    db: Database,
    publisher: Publisher,
    media_dir: Path,
    event: models.Event,
    caller: Principal,
    line_id: int,
    text: str,
) -> dict[str, Any]:
    async with db.session() as session:
        line = (
            await session.execute(
                select(models.TranscriptSegment).where(
                    models.TranscriptSegment.id == line_id, models.TranscriptSegment.event_id == event.id
                )
            )
        ).scalar_one_or_none()
        if line is None:
            raise not_found(f"caption line {line_id}")
        before = line.text
        line.text = text
        line.edited_at = datetime.now(UTC)
        session.add(
            models.AuditLog(
                event_id=event.id,
                actor_id=caller.participant_id,
                actor_role=caller.role.value,
                action=EDIT_ACTION,
                before={"line": line_id, "text": before},
                after={"line": line_id, "text": text},
            )
        )
        await search.replace_doc(
            session, event.id, search.Doc(search.DocKind.TRANSCRIPT, line.id, line.start, line.text)
        )
        await session.commit()
        view = caption_view(line)
    await publisher.caption(event.id, view)
    if event.state in (EventState.ENDED.value, EventState.ARCHIVED.value):
        async with db.session() as session:
            lines = await transcript_lines(session, event.id)
        await write_caption_files(lines, media_dir / event.slug)  # captions.vtt/.srt follow the rows
    return view


def glossary_view(event: models.Event) -> dict[str, list[str]]:
    stored = event.glossary or {}
    return {lang: list(stored.get(lang, [])) for lang in LANGUAGES}


async def set_glossary(
    db: Database, captions: CaptionService, event: models.Event, caller: Principal, terms: dict[str, list[str]]
) -> dict[str, list[str]]:
    cleaned = {lang: clean_terms(terms.get(lang, [])) for lang in LANGUAGES}
    async with db.session() as session:
        row = await session.get(models.Event, event.id)
        if row is None:
            raise not_found(f"event '{event.slug}'")
        before = glossary_view(row)
        row.glossary = cleaned
        session.add(
            models.AuditLog(
                event_id=event.id,
                actor_id=caller.participant_id,
                actor_role=caller.role.value,
                action=GLOSSARY_ACTION,
                before=before,
                after=cleaned,
            )
        )
        await session.commit()
        captions.vocabulary_changed(row.slug, hotwords(row.title_zh, row.title_en, row.topics or [], cleaned))
    return cleaned
