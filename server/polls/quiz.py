"""An event's quiz: the organiser's rule (pass mark, required for training) and every participant's score."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from polls.model import Answer
from polls.scoring import DEFAULT_PASS_PERCENT, Score, score
from server.db.poll_models import Poll as PollRow
from server.db.poll_models import PollAnswer, QuizSettings
from server.polls.mapping import loaded, to_domain


@dataclass(frozen=True)
class QuizRule:
    pass_percent: int = DEFAULT_PASS_PERCENT
    required_for_training: bool = False


async def rule(session: AsyncSession, event_id: int) -> QuizRule:
    row = await session.get(QuizSettings, event_id)
    return QuizRule() if row is None else QuizRule(row.pass_percent, row.required_for_training)


async def set_rule(session: AsyncSession, event_id: int, pass_percent: int | None, required: bool | None) -> QuizRule:
    row = await session.get(QuizSettings, event_id)
    if row is None:
        row = QuizSettings(event_id=event_id, pass_percent=DEFAULT_PASS_PERCENT, required_for_training=False)
        session.add(row)
    if pass_percent is not None:
        row.pass_percent = pass_percent
    if required is not None:
        row.required_for_training = required
    await session.commit()
    return QuizRule(row.pass_percent, row.required_for_training)


async def published(session: AsyncSession, event_id: int) -> list[PollRow]:
    """The event's quiz questions that staff launched (drafts do not count against anyone)."""
    rows = await session.execute(
        select(PollRow)
        .where(PollRow.event_id == event_id, PollRow.quiz.is_(True), PollRow.state != "draft")
        .order_by(PollRow.id)
    )
    return list(rows.scalars())


async def answers(session: AsyncSession, event_id: int, only: int | None = None) -> dict[int, dict[int, Answer]]:
    """participant id → {poll id → answer} over the event's quiz questions."""
    query = (
        select(PollAnswer.participant_id, PollAnswer.poll_id, PollAnswer.answer)
        .join(PollRow, PollRow.id == PollAnswer.poll_id)
        .where(PollAnswer.event_id == event_id, PollRow.quiz.is_(True))
    )
    if only is not None:
        query = query.where(PollAnswer.participant_id == only)
    out: dict[int, dict[int, Answer]] = defaultdict(dict)
    for pid, poll_id, answer in await session.execute(query):
        out[pid][poll_id] = loaded(answer)
    return dict(out)


async def scores(
    session: AsyncSession, event_id: int, only: int | None = None
) -> tuple[QuizRule, dict[int, Score] | None]:
    """The rule and each participant's score; None when the event has published no quiz question."""
    the_rule = await rule(session, event_id)
    quiz = [to_domain(r) for r in await published(session, event_id)]
    if not quiz:
        return the_rule, None
    given = await answers(session, event_id, only)
    return the_rule, {pid: score(quiz, a, the_rule.pass_percent) for pid, a in given.items()}
