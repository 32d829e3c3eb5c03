"""Vote counts are coalesced: a vote storm becomes a few `question.votes` frames per second per event."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from sqlalchemy import select

from server.db.engine import Database
from server.db.models import Question
from server.questions.publisher import Publisher

log = logging.getLogger("sitecast.votes")

# Four updates a second per event feel live; above LARGE_AUDIENCE viewers one a second does: each
# votes frame costs a write to every socket, so at 5,000 viewers four a second would be a quarter of all
# deliveries (bench/README.md) while nobody can tell 250 ms from 1 s on a vote counter.
FLUSH_INTERVAL_S = 0.25
LARGE_AUDIENCE = 1000
LARGE_AUDIENCE_INTERVAL_S = 1.0


def flush_interval(viewers: int) -> float:
    return LARGE_AUDIENCE_INTERVAL_S if viewers > LARGE_AUDIENCE else FLUSH_INTERVAL_S


class VoteCoalescer:
    def __init__(self, db: Database, publisher: Publisher, audience: Callable[[int], int] = lambda _: 0) -> None:
        self._db = db
        self._publisher = publisher
        self._audience = audience  # viewers of an event (all processes), which sets its flush interval
        self._dirty: dict[int, set[int]] = {}
        self._flushed_at: dict[int, float] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def mark(self, event_id: int, question_id: int) -> None:
        self._dirty.setdefault(event_id, set()).add(question_id)
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="vote-coalescer")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(FLUSH_INTERVAL_S)
            now = time.monotonic()
            due = [
                event_id
                for event_id in self._dirty
                if now - self._flushed_at.get(event_id, 0.0) >= flush_interval(self._audience(event_id)) - 0.01
            ]
            try:
                await self.flush(due)
            except Exception:
                log.exception("vote flush failed; counts will go out with the next flush")
            if not self._dirty:
                self._wake.clear()

    async def flush(self, event_ids: list[int] | None = None) -> None:
        """Publish the counts of the given events' voted questions (all dirty events by default)."""
        if event_ids is None:
            dirty, self._dirty = self._dirty, {}
        else:
            dirty = {e: self._dirty.pop(e) for e in event_ids if e in self._dirty}
        now = time.monotonic()
        for event_id, ids in dirty.items():
            self._flushed_at[event_id] = now
            # Read the committed counts, so several processes publishing never go backwards.
            async with self._db.session() as session:
                rows = await session.execute(select(Question.id, Question.votes).where(Question.id.in_(ids)))
                counts = {qid: votes for qid, votes in rows}
            if counts:
                await self._publisher.votes(event_id, counts)
