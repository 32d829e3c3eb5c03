"""Serving the live subtitles track (server/captions/webvtt.py renders it): the programme's segment
spans from its segments.log, the stored caption lines of a span from the database.

Every player of the track reloads the playlist about once a segment and fetches each segment once:
at thousands of viewers both are read once per change, not per request. The log is read from where
the last read stopped (it only grows); a segment's cues are cached briefly (corrections show in a
segment fetched after them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.captions.webvtt import Cue, Span, parse_log
from server.db.models import TranscriptSegment

SEGMENT_LOG = "segments.log"  # the HLS writer's record of every segment (server/media/hls.py)
# A segment's cues are reused this long: players fetch a listed segment within a second or two.
CUES_MAX_AGE_S = 2.0
MAX_CACHED_SEGMENTS = 512


@dataclass
class _Log:
    size: int = 0
    spans: list[Span] = field(default_factory=list)
    tail: str = ""  # a line not yet finished when it was read


class SubtitleSource:
    def __init__(self, media_dir: Path) -> None:
        self.media_dir = media_dir
        self._logs: dict[str, _Log] = {}
        self._cues: dict[tuple[int, int], tuple[float, str]] = {}

    def spans(self, slug: str) -> list[Span]:
        """The programme's segments so far (the camera feed's directory is the event's)."""
        path = self.media_dir / slug / SEGMENT_LOG
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            self._logs.pop(slug, None)
            return []
        log = self._logs.get(slug)
        if log is None or size < log.size:  # new, or a new recording in its place
            log = self._logs[slug] = _Log()
        if size > log.size:
            with path.open("rb") as f:
                f.seek(log.size)
                chunk = f.read(size - log.size).decode("utf-8", "replace")
            text = log.tail + chunk
            complete, _, log.tail = text.rpartition("\n")
            log.spans.extend(parse_log(complete))
            log.size = size
        return log.spans

    def span(self, slug: str, sequence: int) -> Span | None:
        return next((s for s in reversed(self.spans(slug)) if s.sequence == sequence), None)

    async def segment(
        self,
        sessions: Callable[[], AbstractAsyncContextManager[AsyncSession]],
        event_id: int,
        span: Span,
        render: Callable[[Span, list[Cue]], str],
    ) -> str:
        key = (event_id, span.sequence)
        now = time.monotonic()
        cached = self._cues.get(key)
        if cached is not None and now - cached[0] < CUES_MAX_AGE_S:
            return cached[1]
        async with sessions() as session:
            rows = await session.execute(
                select(TranscriptSegment.start, TranscriptSegment.end, TranscriptSegment.text)
                .where(
                    TranscriptSegment.event_id == event_id,
                    TranscriptSegment.end > span.start,
                    TranscriptSegment.start < span.end,
                )
                .order_by(TranscriptSegment.start)
            )
            cues = [Cue(start, end, text) for start, end, text in rows]
        text = render(span, cues)
        if len(self._cues) >= MAX_CACHED_SEGMENTS:
            self._cues.clear()
        self._cues[key] = (now, text)
        return text
