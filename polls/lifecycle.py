"""The poll lifecycle: draft → open → closed, one guarded transition, and the rules of a poll's shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType

from polls.errors import Refused
from polls.model import (
    MAX_OPTION_CHARS,
    MAX_OPTIONS,
    MAX_PROMPT_CHARS,
    MAX_TIME_LIMIT_S,
    MIN_OPTIONS,
    QUIZ_KINDS,
    WITH_OPTIONS,
    Audience,
    Poll,
    PollKind,
    PollState,
)

_S = PollState
ALLOWED: Mapping[PollState, frozenset[PollState]] = MappingProxyType(
    {_S.DRAFT: frozenset({_S.OPEN}), _S.OPEN: frozenset({_S.CLOSED}), _S.CLOSED: frozenset()}
)


class IllegalTransition(Refused):
    """A move the lifecycle does not allow; names the expected and the actual state."""

    def __init__(self, current: PollState, target: PollState) -> None:
        expected = ", ".join(sorted(s.value for s, targets in ALLOWED.items() if target in targets)) or "none"
        super().__init__(
            "illegal_transition",
            f"cannot move a poll to {target.value!r}: expected state {expected}, actual {current.value!r}",
        )
        self.current = current
        self.target = target


def transition(poll: Poll, target: PollState, now: float) -> Poll:
    """The poll in ``target`` (stamped with ``now``), or IllegalTransition."""
    if target not in ALLOWED[poll.state]:
        raise IllegalTransition(poll.state, target)
    if target == PollState.OPEN:
        return replace(poll, state=target, opened_at=now)
    return replace(poll, state=target, closed_at=now)


def expire(poll: Poll, now: float) -> Poll:
    """A timed poll past its deadline is closed (at its deadline), whoever notices first."""
    deadline = poll.deadline
    if poll.state == PollState.OPEN and deadline is not None and now >= deadline:
        return replace(poll, state=PollState.CLOSED, closed_at=deadline)
    return poll


def draft(
    poll_id: int,
    kind: PollKind,
    prompt: str,
    options: Sequence[str] = (),
    *,
    results_to: Audience = Audience.EVERYONE,
    quiz: bool = False,
    correct: Sequence[int] = (),
    time_limit_s: int | None = None,
) -> Poll:
    """A new poll in draft, or Refused("invalid", why) when its shape is wrong."""
    prompt = prompt.strip()
    if not prompt or len(prompt) > MAX_PROMPT_CHARS:
        raise Refused("invalid", f"the prompt must be 1–{MAX_PROMPT_CHARS} characters")
    cleaned = tuple(o.strip() for o in options)
    if kind in WITH_OPTIONS:
        if not MIN_OPTIONS <= len(cleaned) <= MAX_OPTIONS:
            raise Refused("invalid", f"a {kind.value} poll needs {MIN_OPTIONS}–{MAX_OPTIONS} options")
        if any(not o or len(o) > MAX_OPTION_CHARS for o in cleaned):
            raise Refused("invalid", f"each option must be 1–{MAX_OPTION_CHARS} characters")
        if len(set(cleaned)) != len(cleaned):
            raise Refused("invalid", "options must differ")
    elif cleaned:
        raise Refused("invalid", f"a {kind.value} poll has no options")
    right = frozenset(correct)
    if quiz:
        if kind not in QUIZ_KINDS:
            raise Refused("invalid", "a quiz question is a single or multiple choice")
        if not right or any(not 0 <= i < len(cleaned) for i in right):
            raise Refused("invalid", "a quiz question needs its correct option(s)")
        if kind == PollKind.SINGLE and len(right) != 1:
            raise Refused("invalid", "a single-choice quiz question has exactly one correct option")
    elif right:
        raise Refused("invalid", "only a quiz question has correct answers")
    if time_limit_s is not None and not 5 <= time_limit_s <= MAX_TIME_LIMIT_S:
        raise Refused("invalid", f"the time limit must be 5–{MAX_TIME_LIMIT_S} seconds")
    return Poll(
        id=poll_id,
        kind=kind,
        prompt=prompt,
        options=cleaned,
        results_to=results_to,
        quiz=quiz,
        correct=right,
        time_limit_s=time_limit_s,
    )


def revise(poll: Poll, replacement: Poll) -> Poll:
    """Staff may change a poll only while it is a draft: nobody has answered it yet."""
    if poll.state != PollState.DRAFT:
        raise Refused("not_draft", f"poll {poll.id} is {poll.state.value}; only a draft can be changed")
    return replace(replacement, id=poll.id)
