"""Poll rows ↔ domain values, and what each audience may see of a poll."""

from __future__ import annotations

from typing import Any

from polls.model import Answer, Audience, Poll, PollKind, PollState
from server.db.poll_models import Poll as PollRow
from server.questions.mapping import dt, ts


def to_domain(row: PollRow) -> Poll:
    return Poll(
        id=row.id,
        kind=PollKind(row.kind),
        prompt=row.prompt,
        options=tuple(row.options or ()),
        state=PollState(row.state),
        results_to=Audience(row.results_to),
        quiz=row.quiz,
        correct=frozenset(row.correct or ()),
        time_limit_s=row.time_limit_s,
        opened_at=ts(row.opened_at),
        closed_at=ts(row.closed_at),
    )


def apply(row: PollRow, poll: Poll) -> None:
    row.kind = poll.kind.value
    row.prompt = poll.prompt
    row.options = list(poll.options)
    row.state = poll.state.value
    row.results_to = poll.results_to.value
    row.quiz = poll.quiz
    row.correct = sorted(poll.correct)
    row.time_limit_s = poll.time_limit_s
    row.opened_at = dt(poll.opened_at)
    row.closed_at = dt(poll.closed_at)


def public_view(poll: Poll) -> dict[str, Any]:
    """What a participant sees: never the right answers (a quiz stays answerable after the event)."""
    return {
        "id": poll.id,
        "kind": poll.kind.value,
        "prompt": poll.prompt,
        "options": list(poll.options),
        "state": poll.state.value,
        "results_to": poll.results_to.value,
        "quiz": poll.quiz,
        "time_limit_s": poll.time_limit_s,
        "opened_at": poll.opened_at,
        "closed_at": poll.closed_at,
        "deadline": poll.deadline,
    }


def staff_view(poll: Poll) -> dict[str, Any]:
    return {**public_view(poll), "correct": sorted(poll.correct)}


def stored(answer: Answer) -> Any:
    """An answer as JSON keeps it (tuples become lists)."""
    return list(answer) if isinstance(answer, tuple) else answer


def loaded(value: Any) -> Answer:
    if isinstance(value, list):
        return tuple(int(v) for v in value)
    if isinstance(value, int | str):
        return value
    raise ValueError(f"not a stored answer: {value!r}")
