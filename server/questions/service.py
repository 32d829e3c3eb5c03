"""Question use cases: submit, vote, moderate. Each command runs the pure domain, commits, then publishes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from moderation import commands, own, rules
from moderation.errors import Refused
from moderation.events import AuditEntry, Outcome
from moderation.model import Actor, ModerationMode, QuestionStatus, RejectReason, Role, Standing
from moderation.model import Question as DomainQuestion
from server.auth import Principal
from server.chinese import to_simplified
from server.db import models
from server.db.engine import Database
from server.errors import ApiError
from server.lifecycle import EventState
from server.questions.actions import actor_for, refused, simple_action
from server.questions.hot import HotCommands
from server.questions.mapping import apply, new_row, to_domain
from server.questions.publisher import Publisher
from server.questions.votes import VoteCoalescer
from server.schemas_questions import ActionRequest, ModerationSettings, QuestionCreate
from server.services.people import relatives, root


class QuestionService:
    def __init__(self, db: Database, publisher: Publisher, votes: VoteCoalescer) -> None:
        self.db = db
        self.publisher = publisher
        self.votes = votes
        # One command at a time per event in this process; PostgreSQL row locks cover other processes.
        self._locks: dict[int, asyncio.Lock] = {}
        self.hot = HotCommands(self, db.direct)

    def _lock(self, event_id: int) -> asyncio.Lock:
        return self._locks.setdefault(event_id, asyncio.Lock())

    async def _lock_event_row(self, session: AsyncSession, event_id: int) -> models.Event:
        event = (
            await session.execute(select(models.Event).where(models.Event.id == event_id).with_for_update())
        ).scalar_one()
        return event

    async def _fresh_actor(self, session: AsyncSession, caller: Principal) -> Actor:
        if caller.participant is None:
            return actor_for(caller)
        p = await session.get(models.Participant, caller.participant.id, populate_existing=True)
        assert p is not None
        return Actor(participant_id=p.id, role=Role(p.role), standing=Standing(p.standing))

    # submit ----------------------------------------------------------------------------------------
    async def submit(self, event: models.Event, caller: Principal, body: QuestionCreate) -> DomainQuestion:
        if caller.participant is None:
            raise ApiError(403, "forbidden", "join the event as a participant to ask a question")
        if event.state in (EventState.ENDED, EventState.ARCHIVED):
            raise ApiError(409, "event_over", "this event has ended; questions are closed")
        if event.state == EventState.SCHEDULED and not event.pre_questions:
            raise ApiError(409, "not_started", "questions open when the event starts")
        if body.anonymous and not event.allow_anonymous:
            raise ApiError(422, "anonymous_not_allowed", "this event does not allow anonymous questions")
        if body.topic is not None and body.topic not in event.topics:
            raise ApiError(422, "invalid", f"topic must be one of the event's topics: {', '.join(event.topics)}")
        async with self._lock(event.id), self.db.session() as session:
            ev = await self._lock_event_row(session, event.id)
            actor = await self._fresh_actor(session, caller)
            now = time.time()
            last = (
                await session.execute(
                    select(func.max(models.Question.created_at)).where(
                        models.Question.event_id == ev.id, models.Question.asker_id == actor.participant_id
                    )
                )
            ).scalar_one_or_none()
            existing = [
                (qid, text)
                for qid, text in await session.execute(
                    select(models.Question.id, models.Question.text).where(
                        models.Question.event_id == ev.id,
                        models.Question.status.not_in([QuestionStatus.REJECTED, QuestionStatus.MERGED]),
                    )
                )
            ]
            cfg = rules.RulesConfig(
                banned_words=frozenset(ev.banned_words or []),
                link_policy=rules.LinkPolicy(ev.link_policy),
                rate_limit_seconds=ev.rate_limit_seconds,
                simplify=to_simplified,
            )
            verdict = rules.check(
                body.text, actor, cfg, now=now, last_asked_at=last.timestamp() if last else None, existing=existing
            )
            try:
                outcome = commands.submit(
                    question_id=0,
                    event_id=ev.id,
                    asker=actor,
                    text=body.text,
                    anonymous=body.anonymous,
                    now=now,
                    mode=ModerationMode(ev.moderation_mode),
                    verdict=verdict,
                    topic=body.topic,
                    pre_submitted=ev.state == EventState.SCHEDULED,
                )
            except Refused as exc:
                raise refused(exc) from None
            row = new_row(outcome.questions[0])
            session.add(row)
            await session.flush()
            outcome = _with_id(outcome, row.id)
            await session.commit()
            people = {caller.participant.id: caller.participant}
        await self.publisher.outcome(event.id, outcome, people)
        return outcome.questions[0]

    # votes -----------------------------------------------------------------------------------------
    async def vote(
        self, session: AsyncSession, event: models.Event, caller: Principal, question_id: int, up: bool
    ) -> int:
        """Runs in the request's `session`, where the caller was just loaded: their standing is current.

        The vote row itself says whether the caller had voted: an insert that hits the (question,
        participant) key means "already voted", a delete that removes nothing means "had not voted". That
        and the atomic count update with RETURNING keep a vote storm at four statements per vote."""
        if caller.participant is None:
            raise ApiError(403, "forbidden", "join the event as a participant to vote")
        row = await self._question(session, event, question_id)
        actor = actor_for(caller)
        q = to_domain(row)
        now = time.time()
        pair = (models.Vote.question_id == question_id, models.Vote.participant_id == actor.participant_id)
        try:
            if up:
                commands.vote(q, actor, has_voted=False, now=now)  # standing, status, own question
                try:
                    await session.execute(
                        insert(models.Vote).values(question_id=question_id, participant_id=actor.participant_id)
                    )
                except IntegrityError:
                    raise Refused("already_voted", f"question {question_id}") from None
            else:
                removed = (await session.execute(delete(models.Vote).where(*pair))).rowcount
                commands.unvote(q, actor, has_voted=removed > 0, now=now)
        except Refused as exc:
            await session.rollback()
            raise refused(exc) from None
        # Atomic increment: concurrent voters in several processes never lose a count.
        votes = (
            await session.execute(
                update(models.Question)
                .where(models.Question.id == question_id)
                .values(votes=models.Question.votes + (1 if up else -1))
                .returning(models.Question.votes)
            )
        ).scalar_one()
        await session.commit()
        self.votes.mark(event.id, question_id)
        return int(votes)

    # moderation actions ----------------------------------------------------------------------------
    async def act(
        self, session: AsyncSession, event: models.Event, caller: Principal, question_id: int, body: ActionRequest
    ) -> DomainQuestion:
        """Runs in the request's `session`, where the caller (staff: their role decides) was just loaded.

        Moderators act many times a minute while thousands watch, so the action costs few round trips:
        the event row lock (PostgreSQL), the question with its asker, the writes, the commit."""
        async with self._lock(event.id):
            if session.get_bind().dialect.name == "postgresql":
                await self._lock_event_row(session, event.id)  # SQLite: one writer at a time already
            actor = actor_for(caller)
            row, asker = await self._question_and_asker(session, event, question_id)
            q = to_domain(row)
            now = time.time()
            rows = {row.id: row}
            try:
                outcome = await self._run_action(session, event, actor, q, body, now, rows)
            except Refused as exc:
                raise refused(exc) from None
            for changed in outcome.questions:
                target = rows.get(changed.id) or await session.get(models.Question, changed.id)
                assert target is not None
                apply(target, changed)
            self._audit(session, event.id, caller, outcome.audit)
            await session.commit()
            people = {asker.id: asker} if asker is not None else {}
            others = {r.asker_id for r in rows.values()} - people.keys()
            if others:
                people.update(await self._people(session, others))
        await self.publisher.outcome(event.id, outcome, people)
        return next((c for c in outcome.questions if c.id == question_id), q)

    async def _run_action(
        self,
        session: AsyncSession,
        event: models.Event,
        actor: Actor,
        q: DomainQuestion,
        body: ActionRequest,
        now: float,
        rows: dict[int, models.Question],
    ) -> Outcome:
        match body.action:
            case "approve" | "edit" | "reject" | "reopen" | "reorder" | "answered":
                return simple_action(q, actor, body, now)
            case "pin" | "unpin":
                pinned = await self._find(session, event, models.Question.pinned.is_(True), exclude=q.id)
                if pinned is not None:
                    rows[pinned.id] = pinned
                current = to_domain(pinned) if pinned is not None else None
                return commands.pin(q, actor, now, pinned=body.action == "pin", currently_pinned=current)
            case "answering":
                current_row = await self._find(
                    session, event, models.Question.status == QuestionStatus.ANSWERING, exclude=q.id
                )
                if current_row is not None:
                    rows[current_row.id] = current_row
                current = to_domain(current_row) if current_row is not None else None
                return commands.start_answering(q, actor, now, current)
            case "merge":
                if body.into is None:
                    raise ApiError(422, "invalid", "merge needs `into`: the id of the question to keep")
                dst_row = await self._question(session, event, body.into)
                rows[dst_row.id] = dst_row
                children_rows = list(
                    (
                        await session.execute(select(models.Question).where(models.Question.merged_into == q.id))
                    ).scalars()
                )
                for child in children_rows:
                    rows[child.id] = child
                src_voters = await self._voters(session, q.id)
                dst_voters = await self._voters(session, dst_row.id)
                dst = to_domain(dst_row)
                outcome = commands.merge(
                    q,
                    dst,
                    actor,
                    now,
                    src_voters=src_voters,
                    dst_voters=dst_voters,
                    children=[to_domain(c) for c in children_rows],
                )
                voters = commands.merged_voters(q, dst, src_voters, dst_voters)
                await session.execute(delete(models.Vote).where(models.Vote.question_id.in_([q.id, dst.id])))
                session.add_all(models.Vote(question_id=dst.id, participant_id=v) for v in sorted(voters))
                return outcome
        raise ApiError(422, "invalid", f"unknown action {body.action}")  # pragma: no cover - schema checks

    # the asker's own pending question ----------------------------------------------------------------
    async def revise_own(self, event: models.Event, caller: Principal, question_id: int, text: str) -> DomainQuestion:
        """The asker rewords their pending question; the content rules judge the new text as on asking."""
        if caller.participant is None:
            raise ApiError(403, "forbidden", "only the asker may change their question")
        async with self._lock(event.id), self.db.session() as session:
            ev = await self._lock_event_row(session, event.id)
            actor = await self._fresh_actor(session, caller)
            row = await self._question(session, event, question_id)
            existing = [
                (qid, t)
                for qid, t in await session.execute(
                    select(models.Question.id, models.Question.text).where(
                        models.Question.event_id == ev.id,
                        models.Question.id != question_id,
                        models.Question.status.not_in([QuestionStatus.REJECTED, QuestionStatus.MERGED]),
                    )
                )
            ]
            cfg = rules.RulesConfig(
                banned_words=frozenset(ev.banned_words or []),
                link_policy=rules.LinkPolicy(ev.link_policy),
                rate_limit_seconds=ev.rate_limit_seconds,
            )
            now = time.time()
            # Rewording is not asking again: no rate limit (last_asked_at None).
            verdict = rules.check(text, actor, cfg, now=now, last_asked_at=None, existing=existing)
            try:
                outcome = own.revise(to_domain(row), actor, text, now, verdict)
            except Refused as exc:
                raise refused(exc) from None
            apply(row, outcome.questions[0])
            self._audit(session, event.id, caller, outcome.audit)
            await session.commit()
        await self.publisher.outcome(event.id, outcome, {caller.participant.id: caller.participant})
        return outcome.questions[0]

    async def withdraw_own(self, event: models.Event, caller: Principal, question_id: int) -> None:
        """The asker takes back their pending question: the row goes, the audit log keeps what it said."""
        if caller.participant is None:
            raise ApiError(403, "forbidden", "only the asker may withdraw their question")
        async with self._lock(event.id), self.db.session() as session:
            await self._lock_event_row(session, event.id)
            actor = await self._fresh_actor(session, caller)
            row = await self._question(session, event, question_id)
            try:
                outcome = own.withdraw(to_domain(row), actor, time.time())
            except Refused as exc:
                raise refused(exc) from None
            self._audit(session, event.id, caller, outcome.audit)
            await session.execute(delete(models.Vote).where(models.Vote.question_id == question_id))
            await session.delete(row)
            await session.commit()
        await self.publisher.outcome(event.id, outcome, {caller.participant.id: caller.participant})

    # settings and standing ---------------------------------------------------------------------------
    async def settings(self, event: models.Event, caller: Principal, body: ModerationSettings) -> models.Event:
        async with self._lock(event.id), self.db.session() as session:
            ev = await self._lock_event_row(session, event.id)
            actor = await self._fresh_actor(session, caller)
            outcome = Outcome()
            if body.moderation_mode is not None and body.moderation_mode != ev.moderation_mode:
                try:
                    outcome = commands.set_mode(actor, ModerationMode(body.moderation_mode), time.time())
                except Refused as exc:
                    raise refused(exc) from None
                ev.moderation_mode = body.moderation_mode
            elif not actor.can_moderate:
                raise ApiError(403, "forbidden", "moderators only")
            before = {
                "banned_words": list(ev.banned_words or []),
                "link_policy": ev.link_policy,
                "rate_limit_seconds": ev.rate_limit_seconds,
            }
            if body.banned_words is not None:
                ev.banned_words = sorted(set(body.banned_words))
            if body.link_policy is not None:
                ev.link_policy = body.link_policy
            if body.rate_limit_seconds is not None:
                ev.rate_limit_seconds = body.rate_limit_seconds
            after = {
                "banned_words": list(ev.banned_words or []),
                "link_policy": ev.link_policy,
                "rate_limit_seconds": ev.rate_limit_seconds,
            }
            audit = list(outcome.audit)
            if before != after:
                audit.append(AuditEntry(actor.participant_id, "settings", time.time(), before=before, after=after))
            self._audit(session, ev.id, caller, audit)
            await session.commit()
        await self.publisher.outcome(event.id, outcome, {})
        return ev

    async def set_standing(
        self, event: models.Event, caller: Principal, participant_id: int, standing: str, reason: str | None
    ) -> models.Participant:
        async with self._lock(event.id), self.db.session() as session:
            actor = await self._fresh_actor(session, caller)
            target = await session.get(models.Participant, participant_id)
            if target is None or target.event_id != event.id:
                raise ApiError(404, "not_found", f"participant {participant_id} not found")
            target_actor = Actor(target.id, Role(target.role), Standing(target.standing))
            try:
                outcome = commands.set_standing(target_actor, actor, Standing(standing), reason, time.time())
            except Refused as exc:
                raise refused(exc) from None
            # The same person as far as we can tell (re-joins from this browser or with an earlier token)
            # gets the same standing, so a ban cannot be shed by joining again.
            family = [target]
            if target.role == Role.VIEWER:
                family = await relatives(session, event.id, root(target), target.visitor) or [target]
            outcomes = [outcome]
            for person in family:
                if person.id != target.id and person.standing != standing:
                    # Each one gets its own frame and audit entry, so the console lists them all.
                    linked = Actor(person.id, Role(person.role), Standing(person.standing))
                    outcomes.append(commands.set_standing(linked, actor, Standing(standing), reason, time.time()))
                person.standing = standing
            if standing == Standing.BANNED:
                # A banned participant's open questions leave the queue with them: viewers never see
                # content from someone the moderators have thrown out.
                open_rows = (
                    await session.execute(
                        select(models.Question).where(
                            models.Question.event_id == event.id,
                            models.Question.asker_id.in_([p.id for p in family]),
                            models.Question.status.in_([QuestionStatus.PENDING, QuestionStatus.APPROVED]),
                        )
                    )
                ).scalars()
                now = time.time()
                for row in open_rows:
                    rejected = commands.reject(to_domain(row), actor, RejectReason.SPAM, reason, now)
                    apply(row, rejected.questions[0])
                    outcomes.append(rejected)
            for done in outcomes:
                self._audit(session, event.id, caller, done.audit)
            await session.commit()
        people = {p.id: p for p in family}
        for done in outcomes:
            await self.publisher.outcome(event.id, done, people)
        return target

    # helpers -----------------------------------------------------------------------------------------
    async def _question(self, session: AsyncSession, event: models.Event, question_id: int) -> models.Question:
        row = await session.get(models.Question, question_id, populate_existing=True)
        if row is None or row.event_id != event.id:
            raise ApiError(404, "not_found", f"question {question_id} not found")
        return row

    async def _question_and_asker(
        self, session: AsyncSession, event: models.Event, question_id: int
    ) -> tuple[models.Question, models.Participant | None]:
        found = (
            await session.execute(
                select(models.Question, models.Participant)
                .outerjoin(models.Participant, models.Participant.id == models.Question.asker_id)
                .where(models.Question.id == question_id)
                .execution_options(populate_existing=True)
            )
        ).first()
        if found is None or found[0].event_id != event.id:
            raise ApiError(404, "not_found", f"question {question_id} not found")
        return found[0], found[1]

    async def _find(
        self, session: AsyncSession, event: models.Event, condition: Any, exclude: int
    ) -> models.Question | None:
        return (
            await session.execute(
                select(models.Question)
                .where(models.Question.event_id == event.id, condition, models.Question.id != exclude)
                .limit(1)
            )
        ).scalar_one_or_none()

    async def _voters(self, session: AsyncSession, question_id: int) -> frozenset[int]:
        rows = await session.execute(select(models.Vote.participant_id).where(models.Vote.question_id == question_id))
        return frozenset(rows.scalars())

    async def _people(self, session: AsyncSession, ids: Iterable[int]) -> dict[int, models.Participant]:
        wanted = set(ids)
        if not wanted:
            return {}
        rows = await session.execute(select(models.Participant).where(models.Participant.id.in_(wanted)))
        return {p.id: p for p in rows.scalars()}

    def _audit(self, session: AsyncSession, event_id: int, caller: Principal, entries: Iterable[AuditEntry]) -> None:
        for entry in entries:
            session.add(
                models.AuditLog(
                    event_id=event_id,
                    actor_id=caller.participant_id,
                    actor_role=caller.role.value,
                    action=entry.action,
                    question_id=entry.question_id,
                    participant_id=entry.participant_id,
                    reason=entry.reason,
                    before=dict(entry.before),
                    after=dict(entry.after),
                )
            )


def _with_id(outcome: Outcome, question_id: int) -> Outcome:
    q = replace(outcome.questions[0], id=question_id)
    events = tuple(replace(e, question=q) if e.question is not None else e for e in outcome.events)
    return replace(outcome, questions=(q,), events=events)
