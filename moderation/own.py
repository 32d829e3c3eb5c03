"""What an asker may do with their own question: reword it or withdraw it, while it is still pending.

Once a moderator has approved (or rejected, or merged) it, the question is the moderators' to change:
other people may have voted for the wording they saw.
"""

from __future__ import annotations

from dataclasses import replace

from moderation.errors import Refused
from moderation.events import DomainEvent, Outcome, audited
from moderation.guards import require_active, require_status
from moderation.model import Actor, Question, QuestionStatus
from moderation.rules import Action, Verdict


def _require_asker(q: Question, asker: Actor) -> None:
    if asker.participant_id != q.asker_id:
        raise Refused("forbidden", "only the asker may change or withdraw their question")


def revise(q: Question, asker: Actor, text: str, now: float, verdict: Verdict) -> Outcome:
    """The asker rewords their pending question; ``verdict`` is ``rules.check`` on the new text."""
    _require_asker(q, asker)
    require_active(asker)
    require_status(q, QuestionStatus.PENDING)
    if verdict.action is Action.REJECT:
        raise Refused(verdict.reason or "rejected", verdict.detail, verdict.retry_after)
    new = replace(
        q,
        text=text.strip(),
        held_reason=verdict.reason if verdict.action is Action.HOLD else None,
        duplicate_of=verdict.duplicate_of,
    )
    return Outcome(
        questions=(new,),
        events=(DomainEvent("question.updated", new, q.status, frozenset({q.asker_id}), {"by_asker": True}),),
        audit=(audited(asker.participant_id, "asker_edit", now, q, new),),
    )


def withdraw(q: Question, asker: Actor, now: float) -> Outcome:
    """The asker takes their pending question back; the service removes it (the audit log keeps it)."""
    _require_asker(q, asker)
    require_status(q, QuestionStatus.PENDING)
    return Outcome(
        questions=(q,),
        events=(DomainEvent("question.withdrawn", q, q.status, frozenset({q.asker_id})),),
        audit=(audited(asker.participant_id, "withdraw", now, q, q),),
    )
