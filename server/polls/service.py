"""Poll use cases: prepare, open, close, answer, list. Each runs the pure rules, commits, then publishes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from polls import lifecycle
from polls.answers import accept
from polls.errors import Refused
from polls.model import Audience, Poll, PollState, Respondent, Voter
from polls.scoring import is_correct
from server.auth import STAFF, Principal
from server.db import models
from server.db.engine import Database
from server.db.poll_models import Poll as PollRow
from server.db.poll_models import PollAnswer
from server.errors import ApiError
from server.lifecycle import EventState
from server.polls.mapping import apply, loaded, public_view, staff_view, stored, to_domain
from server.polls.publisher import PollPublisher
from server.polls.results import PollResults

_STATUS = {
    "forbidden": 403,
    "banned": 403,
    "muted": 403,
    "registration_required": 403,
    "invalid": 422,
    "too_long": 422,
    "anonymous_not_allowed": 422,
    "not_found": 404,
}
OVER = (EventState.ENDED, EventState.ARCHIVED)


def refused(exc: Refused) -> ApiError:
    return ApiError(_STATUS.get(exc.code, 409), exc.code, exc.detail or exc.code.replace("_", " "))


def respondent(caller: Principal, participant: models.Participant | None) -> Respondent:
    if participant is None or caller.role in STAFF:
        return Respondent(participant_id=caller.participant_id or 0, voter=Voter.STAFF)
    return Respondent(
        participant_id=participant.id,
        registered=not participant.anonymous and bool(participant.name),
        standing=participant.standing,
        group=participant.stakeholder,
    )


class PollService:
    def __init__(self, db: Database, publisher: PollPublisher, results: PollResults) -> None:
        self.db = db
        self.publisher = publisher
        self.results = results
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # preparing -------------------------------------------------------------------------------------
    async def create(self, event: models.Event, draft: Poll) -> Poll:
        async with self.db.session() as session:
            row = PollRow(event_id=event.id)
            apply(row, draft)
            session.add(row)
            await session.commit()
            poll = to_domain(row)
        await self.publisher.saved(event.id, poll)
        return poll

    async def update(self, event: models.Event, poll_id: int, replacement: Callable[[], Poll]) -> Poll:
        async with self.db.session() as session:
            row = await self._row(session, event, poll_id, lock=True)
            try:
                poll = lifecycle.revise(to_domain(row), replacement())
            except Refused as exc:
                raise refused(exc) from None
            apply(row, poll)
            await session.commit()
        await self.publisher.saved(event.id, poll)
        return poll

    async def delete(self, event: models.Event, poll_id: int) -> None:
        async with self.db.session() as session:
            row = await self._row(session, event, poll_id, lock=True)
            if row.state != PollState.DRAFT:
                raise ApiError(409, "not_draft", f"poll {poll_id} is {row.state}; close it instead")
            await session.delete(row)
            await session.commit()
        await self.publisher.deleted(event.id, poll_id)

    # opening and closing ---------------------------------------------------------------------------
    async def set_state(self, event: models.Event, poll_id: int, target: PollState) -> Poll:
        async with self.db.session() as session:
            row = await self._row(session, event, poll_id, lock=True)
            poll = lifecycle.expire(to_domain(row), time.time())
            try:
                poll = lifecycle.transition(poll, target, time.time())
            except Refused as exc:
                raise refused(exc) from None
            apply(row, poll)
            await session.commit()
            final = await self.results.compute(session, poll, event.topics) if target == PollState.CLOSED else None
        if target == PollState.CLOSED:
            self.results.forget(poll.id)
        await self.publisher.state(event.id, poll, final)
        if poll.deadline is not None and target == PollState.OPEN:
            self._close_at_deadline(event, poll)
        return poll

    def _close_at_deadline(self, event: models.Event, poll: Poll) -> None:
        assert poll.deadline is not None
        delay = max(0.0, poll.deadline - time.time())

        def fire() -> None:
            self._timers.pop(poll.id, None)
            task = asyncio.get_running_loop().create_task(self._expire(event, poll.id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        self._timers[poll.id] = asyncio.get_running_loop().call_later(delay, fire)

    async def _expire(self, event: models.Event, poll_id: int) -> None:
        """A timed poll closes at its deadline (whichever process opened it does this; any process also
        refuses late answers by the same rule, so a process that died here loses nothing)."""
        async with self.db.session() as session:
            row = await self._row(session, event, poll_id, lock=True)
            before = to_domain(row)
            poll = lifecycle.expire(before, time.time())
            if poll == before:
                return
            apply(row, poll)
            await session.commit()
            final = await self.results.compute(session, poll, event.topics)
        self.results.forget(poll.id)
        await self.publisher.state(event.id, poll, final)

    # answering -------------------------------------------------------------------------------------
    async def answer(
        self, session: AsyncSession, event: models.Event, caller: Principal, poll_id: int, raw: object
    ) -> dict[str, Any]:
        """Runs in the request's session, where the caller was just loaded (their standing is current).

        Vote-once is the (poll, participant) primary key: a second answer, from any process, hits it."""
        if caller.participant is None:
            raise ApiError(403, "forbidden", "join the event to answer polls")
        row = await self._row(session, event, poll_id)
        poll = to_domain(row)
        who = respondent(caller, caller.participant)
        try:
            answer = accept(poll, who, raw, time.time(), has_answered=False, event_over=event.state in OVER)
            correct = is_correct(poll, answer) if poll.quiz else None
            try:
                session.add(
                    PollAnswer(
                        poll_id=poll.id,
                        participant_id=who.participant_id,
                        event_id=event.id,
                        answer=stored(answer),
                        correct=correct,
                    )
                )
                await session.commit()
            except IntegrityError:
                raise Refused("already_answered", f"you have already answered poll {poll.id}") from None
        except Refused as exc:
            await session.rollback()
            raise refused(exc) from None
        mine = self._mine(poll, answer, correct)
        self.results.mark(event.id, poll.id)
        await self.publisher.answered(event.id, who.participant_id, mine)
        return mine

    def _mine(self, poll: Poll, answer: Any, correct: bool | None) -> dict[str, Any]:
        """A participant's own answer; for a quiz, whether it was right and what the right answer is."""
        mine: dict[str, Any] = {"poll_id": poll.id, "answer": stored(answer)}
        if poll.quiz:
            mine.update(correct=correct, correct_options=sorted(poll.correct))
        return mine

    # reading ---------------------------------------------------------------------------------------
    async def listing(self, session: AsyncSession, event: models.Event, caller: Principal | None) -> dict[str, Any]:
        """The polls the caller may see, with results where they may see them, and their own answers."""
        staff = caller is not None and caller.role in STAFF
        rows = (
            await session.execute(select(PollRow).where(PollRow.event_id == event.id).order_by(PollRow.id))
        ).scalars()
        mine: list[dict[str, Any]] = []
        if caller is not None and caller.participant is not None and not staff:
            mine = await self.answers_of(session, event, caller.participant.id)
        answered = {a["poll_id"] for a in mine}
        now = time.time()
        out = []
        for row in rows:
            poll = lifecycle.expire(to_domain(row), now)
            if poll.state == PollState.DRAFT and not staff:
                continue
            view = staff_view(poll) if staff else public_view(poll)
            visible = staff or poll.results_to == Audience.EVERYONE
            # A quiz stays answerable after the event: its results would give the answer away to those
            # who have not answered yet.
            if poll.quiz and not staff and poll.id not in answered:
                visible = False
            if poll.state != PollState.DRAFT and visible:
                view["results"] = await self.results.cached(session, poll, event.topics)
            out.append(view)
        return {"polls": out, "answers": mine}

    async def answers_of(self, session: AsyncSession, event: models.Event, participant_id: int) -> list[dict[str, Any]]:
        found = await session.execute(
            select(PollAnswer, PollRow)
            .join(PollRow, PollRow.id == PollAnswer.poll_id)
            .where(PollAnswer.event_id == event.id, PollAnswer.participant_id == participant_id)
            .order_by(PollAnswer.poll_id)
        )
        return [self._mine(to_domain(p), loaded(a.answer), a.correct) for a, p in found]

    async def poll_results(
        self, session: AsyncSession, event: models.Event, caller: Principal | None, poll_id: int
    ) -> dict[str, Any]:
        poll = to_domain(await self._row(session, event, poll_id))
        staff = caller is not None and caller.role in STAFF
        if poll.state == PollState.DRAFT and not staff:
            raise ApiError(404, "not_found", f"poll {poll_id} not found")
        if not staff and poll.results_to != Audience.EVERYONE:
            raise ApiError(403, "forbidden", "this poll's results are for staff only")
        return await self.results.compute(session, poll, event.topics)

    async def _row(self, session: AsyncSession, event: models.Event, poll_id: int, lock: bool = False) -> PollRow:
        query = select(PollRow).where(PollRow.id == poll_id).execution_options(populate_existing=True)
        if lock and session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        row = (await session.execute(query)).scalar_one_or_none()
        if row is None or row.event_id != event.id:
            raise ApiError(404, "not_found", f"poll {poll_id} not found")
        return row


async def quiz_polls(session: AsyncSession, event_id: int) -> list[Poll]:
    """The event's quiz questions that staff published (opened at least once)."""
    rows = (
        await session.execute(
            select(PollRow).where(
                PollRow.event_id == event_id, PollRow.quiz.is_(True), PollRow.state != PollState.DRAFT.value
            )
        )
    ).scalars()
    return [to_domain(r) for r in rows]
