"""Vote counts are coalesced: a vote storm becomes a few `question.votes` frames per second per event."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import select

from server.db.engine import Database
from server.db.models import Question
from server.questions.publisher import Publisher

log = logging.getLogger("sitecast.votes")

# At most four updates a second per event: fast enough to feel live, cheap at 5,000 viewers.
FLUSH_INTERVAL_S = 0.25


class VoteCoalescer:
    def __init__(self, db: Database, publisher: Publisher) -> None:
        self._db = db
        self._publisher = publisher
        self._dirty: dict[int, set[int]] = {}
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
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("vote flush failed; counts will go out with the next flush")

    async def flush(self) -> None:
        dirty, self._dirty = self._dirty, {}
        for event_id, ids in dirty.items():
            # Read the committed counts, so several processes publishing never go backwards.
            async with self._db.session() as session:
                rows = await session.execute(select(Question.id, Question.votes).where(Question.id.in_(ids)))
                counts = {qid: votes for qid, votes in rows}
            if counts:
                await self._publisher.votes(event_id, counts)
