"""Live poll results: answers mark their poll; a few times a second the results are tallied from the
committed answers and published. Reading the database (not counting in memory) keeps several processes
consistent: each publishes the totals it read, and `responses` only grows, so a client keeps the frame
with the most responses."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from polls.model import Poll, PollKind, PollState
from polls.results import Ballot, tally
from server.db.engine import Database
from server.db.models import Event, Participant
from server.db.poll_models import Poll as PollRow
from server.db.poll_models import PollAnswer
from server.polls.mapping import loaded, to_domain
from server.polls.publisher import PollPublisher
from server.polls.segmenter import Segmenter
from server.questions.votes import flush_interval

log = logging.getLogger("sitecast.polls")

# Results read for a snapshot are reused this long: thousands of viewers (re)connecting at once read
# the database once a second, not once each. Live changes still reach them through `poll.results`.
SNAPSHOT_CACHE_S = 1.0


class PollResults:
    def __init__(
        self, db: Database, publisher: PollPublisher, segmenter: Segmenter, audience: Callable[[int], int]
    ) -> None:
        self._db = db
        self._publisher = publisher
        self._segmenter = segmenter
        self._audience = audience
        self._dirty: dict[int, set[int]] = {}  # event id → poll ids
        self._flushed_at: dict[int, float] = {}
        self._cache: dict[int, tuple[float, dict[str, Any]]] = {}
        self._tokens: dict[tuple[int, int], tuple[str, ...]] = {}  # (poll, participant) → words
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def mark(self, event_id: int, poll_id: int) -> None:
        self._dirty.setdefault(event_id, set()).add(poll_id)
        self._cache.pop(poll_id, None)
        self._wake.set()

    def forget(self, poll_id: int) -> None:
        """A closed poll takes no more answers: drop its words (a report re-cuts them when asked)."""
        for key in [k for k in self._tokens if k[0] == poll_id]:
            del self._tokens[key]

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="poll-results")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(flush_interval(0))
            now = time.monotonic()
            due = [
                e for e in self._dirty if now - self._flushed_at.get(e, 0.0) >= flush_interval(self._audience(e)) - 0.01
            ]
            try:
                await self.flush(due)
            except Exception:
                log.exception("poll results flush failed; they go out with the next one")
            if not self._dirty:
                self._wake.clear()

    async def flush(self, event_ids: list[int] | None = None) -> None:
        if event_ids is None:
            dirty, self._dirty = self._dirty, {}
        else:
            dirty = {e: self._dirty.pop(e) for e in event_ids if e in self._dirty}
        for event_id, poll_ids in dirty.items():
            self._flushed_at[event_id] = time.monotonic()
            async with self._db.session() as session:
                event = await session.get(Event, event_id)
                rows = (await session.execute(select(PollRow).where(PollRow.id.in_(poll_ids)))).scalars().all()
                for row in rows:
                    poll = to_domain(row)
                    results = await self.compute(session, poll, event.topics if event else ())
                    await self._publisher.results(event_id, poll, results)

    async def compute(self, session: AsyncSession, poll: Poll, topics: Sequence[str] = ()) -> dict[str, Any]:
        """The poll's results from its committed answers (cached briefly for snapshots)."""
        rows = (
            await session.execute(
                select(PollAnswer.participant_id, PollAnswer.answer, Participant.stakeholder)
                .join(Participant, Participant.id == PollAnswer.participant_id)
                .where(PollAnswer.poll_id == poll.id)
                .order_by(PollAnswer.created_at)
            )
        ).all()
        tokens: dict[int, tuple[str, ...]] = {}
        if poll.kind == PollKind.OPEN:
            new = [(pid, str(answer)) for pid, answer, _ in rows if (poll.id, pid) not in self._tokens]
            cut = await self._segmenter.cut([text for _, text in new], topics)
            tokens = {pid: self._tokens[(poll.id, pid)] for pid, _, _ in rows if (poll.id, pid) in self._tokens}
            tokens.update({pid: words for (pid, _), words in zip(new, cut, strict=True)})
            if poll.state == PollState.OPEN:  # answers still coming: keep the cut words for the next tally
                self._tokens.update({(poll.id, pid): words for pid, words in tokens.items()})
        ballots = [Ballot(loaded(answer), group, tokens.get(pid, ())) for pid, answer, group in rows]
        results = tally(poll, ballots).as_dict()
        self._cache[poll.id] = (time.monotonic(), results)
        return results

    async def cached(self, session: AsyncSession, poll: Poll, topics: Sequence[str] = ()) -> dict[str, Any]:
        hit = self._cache.get(poll.id)
        if hit is not None and time.monotonic() - hit[0] < SNAPSHOT_CACHE_S:
            return hit[1]
        return await self.compute(session, poll, topics)
