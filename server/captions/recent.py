"""The recent caption lines a WebSocket snapshot carries, so a viewer who joins or resyncs reads the
current caption at once instead of waiting for the next phrase.

The lines are the event's newest final captions as stored (staff corrections applied: a correction
changes the row), read from the database so every node gives the same answer. A reconnect storm
(thousands of viewers at once) must not read them thousands of times: like the public queue
(server/questions/queries.py), an entry is reused for the same channel position (a new caption or a
correction is a frame, so it moves the position) and for at most MAX_AGE_S.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Event, TranscriptSegment
from server.lifecycle import EventState

# Three finals: the caption band shows two and the page may keep one more for context.
RECENT_LINES = 3
LIVE_SOURCE = "live"


def line_view(line: TranscriptSegment, phrase: int | None = None) -> dict[str, Any]:
    """A stored line as the `caption` frame's data (final, with its id)."""
    return {
        "id": line.id,
        "phrase": phrase,
        "final": True,
        "start": line.start,
        "end": line.end,
        "language": line.language,
        "text": line.text,
        "edited": line.edited_at is not None,
    }


class RecentCaptions:
    MAX_AGE_S = 2.0

    def __init__(self) -> None:
        # event id → channel → (position, when read, lines)
        self._entries: dict[int, dict[str, tuple[int, float, list[dict[str, Any]]]]] = {}

    async def get(
        self,
        sessions: Callable[[], AbstractAsyncContextManager[AsyncSession]],
        event: Event,
        channel: str,
        position: int,
    ) -> list[dict[str, Any]]:
        """Oldest first. Only while the event is live: afterwards the archive page has the transcript.

        The state is read with the lines, not taken from `event`: a socket's resync reuses the event
        row loaded when it connected, perhaps before the event went live."""
        entries = self._entries.setdefault(event.id, {})
        entry = entries.get(channel)
        now = time.monotonic()
        if entry is not None and entry[0] == position and now - entry[1] < self.MAX_AGE_S:
            return entry[2]
        async with sessions() as session:
            state = await session.scalar(select(Event.state).where(Event.id == event.id))
            if state != EventState.LIVE.value:
                self._entries.pop(event.id, None)
                return []
            rows = await session.execute(
                select(TranscriptSegment)
                .where(TranscriptSegment.event_id == event.id, TranscriptSegment.source == LIVE_SOURCE)
                .order_by(TranscriptSegment.start.desc(), TranscriptSegment.id.desc())
                .limit(RECENT_LINES)
            )
            lines = [line_view(line) for line in reversed(list(rows.scalars()))]
        entries[channel] = (position, now, lines)
        return lines
