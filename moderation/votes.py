"""Viewers voting questions up: one vote per participant, never for their own question."""

from __future__ import annotations

from dataclasses import replace

from moderation.errors import Refused
from moderation.events import DomainEvent, Outcome
from moderation.guards import require_active
from moderation.model import Actor, Question, QuestionStatus, Standing

_S = QuestionStatus
_VOTABLE = frozenset({_S.APPROVED, _S.ANSWERING})


def _require_votable(q: Question) -> None:
    if q.status is _S.ANSWERED:
        raise Refused("closed", f"question {q.id} is answered")
    if q.status not in _VOTABLE:
        # Viewers must not learn that a pending, rejected or merged question exists.
        raise Refused("not_found", f"question {q.id}")


def vote(q: Question, voter: Actor, *, has_voted: bool, now: float) -> Outcome:
    """``voter`` votes for approved or answering ``q``; ``has_voted`` says whether they already have."""
    require_active(voter)
    _require_votable(q)
    if voter.participant_id in q.askers:
        raise Refused("own_question", f"question {q.id}")
    if has_voted:
        raise Refused("already_voted", f"question {q.id}")
    return _counted(q, q.votes + 1, voter, now)


def unvote(q: Question, voter: Actor, *, has_voted: bool, now: float) -> Outcome:
    """``voter`` withdraws their vote. Muted viewers may withdraw; banned ones may do nothing."""
    if voter.standing is Standing.BANNED:
        raise Refused("banned")
    _require_votable(q)
    if not has_voted:
        raise Refused("not_voted", f"question {q.id}")
    return _counted(q, q.votes - 1, voter, now)


def _counted(q: Question, votes: int, voter: Actor, now: float) -> Outcome:
    new = replace(q, votes=votes)
    data = {"votes": votes, "voter": voter.participant_id, "at": now}
    event = DomainEvent("question.votes", new, q.status, frozenset(), data)
    return Outcome(questions=(new,), events=(event,))
