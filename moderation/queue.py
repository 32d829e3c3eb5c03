"""One event's question queue as a value: apply a command, get the new queue and what it caused."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from moderation import answering, commands, merging, ordering, standing, votes
from moderation.errors import Refused
from moderation.events import AuditEntry, Outcome
from moderation.model import Actor, ModerationMode, Question, QuestionStatus, RejectReason, Standing
from moderation.rules import RulesConfig, check

_S = QuestionStatus
_Step = tuple["Queue", Outcome]


@dataclass(frozen=True)
class Queue:
    """The questions, votes and participant standings of one event.

    Every method returns ``(new queue, outcome)`` or raises ``Refused`` leaving the queue as it was.
    Standings recorded here override the standing an ``Actor`` arrives with.
    """

    event_id: int
    mode: ModerationMode = ModerationMode.PRE
    questions: Mapping[int, Question] = field(default_factory=dict)
    voters: Mapping[int, frozenset[int]] = field(default_factory=dict)
    standings: Mapping[int, Standing] = field(default_factory=dict)
    audit: tuple[AuditEntry, ...] = ()
    rules: RulesConfig = field(default_factory=RulesConfig)

    def as_actor(self, actor: Actor) -> Actor:
        """``actor`` with the standing this queue has recorded for them."""
        return replace(actor, standing=self.standings.get(actor.participant_id, actor.standing))

    def get(self, question_id: int) -> Question:
        """The question with this id, or ``Refused("not_found")``."""
        q = self.questions.get(question_id)
        if q is None:
            raise Refused("not_found", f"question {question_id}")
        return q

    def answering(self) -> Question | None:
        """The question being answered now, if any."""
        return next((q for q in self.questions.values() if q.status is _S.ANSWERING), None)

    def pinned(self) -> Question | None:
        """The pinned question, if any."""
        return next((q for q in self.questions.values() if q.pinned), None)

    def submit(
        self,
        asker: Actor,
        text: str,
        now: float,
        *,
        anonymous: bool = False,
        question_id: int | None = None,
        topic: str | None = None,
        pre_submitted: bool = False,
    ) -> _Step:
        """Judge ``text`` with this queue's rules and add it; ids default to one past the highest."""
        asker = self.as_actor(asker)
        qid = question_id if question_id is not None else max(self.questions, default=0) + 1
        if qid in self.questions:
            raise ValueError(f"question {qid} already exists")
        asked = [q.created_at for q in self.questions.values() if q.asker_id == asker.participant_id]
        live = sorted((q.id, q.text) for q in self.questions.values() if q.status not in (_S.REJECTED, _S.MERGED))
        verdict = check(text, asker, self.rules, now=now, last_asked_at=max(asked, default=None), existing=live)
        outcome = commands.submit(
            question_id=qid,
            event_id=self.event_id,
            asker=asker,
            text=text,
            anonymous=anonymous,
            now=now,
            mode=self.mode,
            verdict=verdict,
            topic=topic,
            pre_submitted=pre_submitted,
        )
        return self._with(outcome), outcome

    def approve(self, question_id: int, actor: Actor, now: float) -> _Step:
        """See ``commands.approve``."""
        return self._step(commands.approve(self.get(question_id), self.as_actor(actor), now))

    def edit(self, question_id: int, actor: Actor, text: str, now: float, approve: bool = False) -> _Step:
        """See ``commands.edit``."""
        return self._step(commands.edit(self.get(question_id), self.as_actor(actor), text, now, approve))

    def reject(
        self, question_id: int, actor: Actor, reason: RejectReason, reason_text: str | None, now: float
    ) -> _Step:
        """See ``commands.reject``."""
        q = self.get(question_id)
        return self._step(commands.reject(q, self.as_actor(actor), reason, reason_text, now))

    def reopen(self, question_id: int, actor: Actor, now: float) -> _Step:
        """See ``commands.reopen``."""
        return self._step(commands.reopen(self.get(question_id), self.as_actor(actor), now))

    def merge(self, src_id: int, dst_id: int, actor: Actor, now: float) -> _Step:
        """See ``merging.merge``; moves the votes of ``src`` to ``dst``."""
        src, dst = self.get(src_id), self.get(dst_id)
        children = tuple(q for q in self.questions.values() if q.merged_into == src_id)
        outcome = merging.merge(
            src,
            dst,
            self.as_actor(actor),
            now,
            src_voters=self.voters.get(src_id, frozenset()),
            dst_voters=self.voters.get(dst_id, frozenset()),
            children=children,
        )
        # The merged question's votes now count for the destination; its own voter set empties.
        voters = {k: v for k, v in self.voters.items() if k != src_id}
        voters[dst_id] = merging.merged_voters(
            src, dst, self.voters.get(src_id, frozenset()), self.voters.get(dst_id, frozenset())
        )
        return self._with(outcome, voters=voters), outcome

    def pin(self, question_id: int, actor: Actor, now: float, pinned: bool) -> _Step:
        """See ``ordering.pin``."""
        q = self.get(question_id)
        return self._step(ordering.pin(q, self.as_actor(actor), now, pinned, self.pinned()))

    def reorder(self, question_id: int, actor: Actor, now: float, position: float | None) -> _Step:
        """See ``ordering.reorder``."""
        return self._step(ordering.reorder(self.get(question_id), self.as_actor(actor), now, position))

    def start_answering(self, question_id: int, actor: Actor, now: float) -> _Step:
        """See ``answering.start_answering``."""
        q = self.get(question_id)
        return self._step(answering.start_answering(q, self.as_actor(actor), now, self.answering()))

    def mark_answered(self, question_id: int, actor: Actor, now: float, answer_text: str | None = None) -> _Step:
        """See ``answering.mark_answered``."""
        q = self.get(question_id)
        return self._step(answering.mark_answered(q, self.as_actor(actor), now, answer_text))

    def vote(self, question_id: int, voter: Actor, now: float) -> _Step:
        """See ``votes.vote``."""
        return self._vote(question_id, voter, now, up=True)

    def unvote(self, question_id: int, voter: Actor, now: float) -> _Step:
        """See ``votes.unvote``."""
        return self._vote(question_id, voter, now, up=False)

    def set_standing(self, target: Actor, actor: Actor, new: Standing, reason: str | None, now: float) -> _Step:
        """See ``standing.set_standing``."""
        target = self.as_actor(target)
        outcome = standing.set_standing(target, self.as_actor(actor), new, reason, now)
        standings = {**self.standings, target.participant_id: new}
        return self._with(outcome, standings=standings), outcome

    def set_mode(self, actor: Actor, mode: ModerationMode, now: float) -> _Step:
        """See ``standing.set_mode``."""
        outcome = standing.set_mode(self.as_actor(actor), mode, now)
        return replace(self._with(outcome), mode=mode), outcome

    def _vote(self, question_id: int, voter: Actor, now: float, *, up: bool) -> _Step:
        q = self.get(question_id)
        voter = self.as_actor(voter)
        current = self.voters.get(question_id, frozenset())
        has_voted = voter.participant_id in current
        command = votes.vote if up else votes.unvote
        outcome = command(q, voter, has_voted=has_voted, now=now)
        changed = current | {voter.participant_id} if up else current - {voter.participant_id}
        return self._with(outcome, voters={**self.voters, question_id: changed}), outcome

    def _step(self, outcome: Outcome) -> _Step:
        return self._with(outcome), outcome

    def _with(
        self,
        outcome: Outcome,
        *,
        voters: Mapping[int, frozenset[int]] | None = None,
        standings: Mapping[int, Standing] | None = None,
    ) -> Queue:
        return replace(
            self,
            questions={**self.questions, **{q.id: q for q in outcome.questions}},
            voters=self.voters if voters is None else voters,
            standings=self.standings if standings is None else standings,
            audit=self.audit + outcome.audit,
        )
