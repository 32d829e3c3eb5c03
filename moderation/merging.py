"""Merging a duplicate into the question it repeats, carrying its askers and votes across."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from moderation.errors import Refused
from moderation.events import DomainEvent, Outcome, audited
from moderation.guards import move, require_moderator
from moderation.model import Actor, Question, QuestionStatus

_S = QuestionStatus


def merged_voters(
    src: Question, dst: Question, src_voters: frozenset[int], dst_voters: frozenset[int]
) -> frozenset[int]:
    """Who votes for ``dst`` after ``src`` is merged into it: everyone who voted for either, once, except
    the askers of both (nobody votes for their own question). The service keeps exactly these vote rows."""
    return (src_voters | dst_voters) - (src.askers | dst.askers)


def merge(
    src: Question,
    dst: Question,
    actor: Actor,
    now: float,
    *,
    src_voters: frozenset[int],
    dst_voters: frozenset[int],
    children: Sequence[Question] = (),
) -> Outcome:
    """A moderator merges ``src`` into ``dst``: ``src`` becomes MERGED, ``dst`` gains its askers and votes.

    ``children`` are the questions already merged into ``src``; they are re-pointed at ``dst`` so a merged
    question always points at a live one. A pending ``dst`` stays pending. The event data carries the
    resulting voter set under ``"voters"``.
    """
    require_moderator(actor)
    if src.id == dst.id:
        raise Refused("same_question", f"question {src.id} cannot be merged into itself")
    if dst.event_id != src.event_id:
        raise Refused("not_found", f"question {dst.id} is not in event {src.event_id}")
    if dst.status in (_S.MERGED, _S.REJECTED):
        raise Refused("illegal_transition", f"cannot merge into a {dst.status.value} question ({dst.id})")
    for child in children:
        if child.merged_into != src.id:
            raise ValueError(f"question {child.id} is not merged into {src.id}")
    voters = merged_voters(src, dst, src_voters, dst_voters)
    new_src = replace(src, status=move(src, _S.MERGED), merged_into=dst.id, pinned=False, votes=0, held_reason=None)
    new_dst = replace(dst, askers=dst.askers | src.askers, votes=len(voters))
    moved = tuple(replace(c, merged_into=dst.id) for c in children)
    events = [
        DomainEvent("question.merged", new_src, src.status, src.askers, {"into": dst.id, "voters": voters}),
        DomainEvent("question.updated", new_dst, dst.status, frozenset(), {"votes": new_dst.votes}),
        *(DomainEvent("question.updated", c, c.status, frozenset(), {"into": dst.id}) for c in moved),
    ]
    return Outcome(
        questions=(new_src, new_dst, *moved),
        events=tuple(events),
        audit=(audited(actor.participant_id, "merge", now, src, new_src, f"into {dst.id}"),),
    )
