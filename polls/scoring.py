"""Quiz scoring: a right answer is exactly the correct option(s); a pass mark is a percentage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from polls.model import Answer, Poll, PollKind

DEFAULT_PASS_PERCENT = 60


def is_correct(poll: Poll, answer: Answer) -> bool:
    """True when ``answer`` is exactly right: the one option, or every correct option and no other."""
    if not poll.quiz:
        return False
    if poll.kind == PollKind.SINGLE:
        return isinstance(answer, int) and frozenset({answer}) == poll.correct
    return isinstance(answer, tuple) and frozenset(answer) == poll.correct


@dataclass(frozen=True)
class Score:
    correct: int
    answered: int
    total: int  # quiz questions in the event
    pass_percent: int

    @property
    def percent(self) -> int:
        """Right answers out of all the quiz's questions (unanswered count as wrong), rounded down."""
        return 0 if not self.total else self.correct * 100 // self.total

    @property
    def passed(self) -> bool:
        return self.total > 0 and self.percent >= self.pass_percent


def score(quiz: Sequence[Poll], answers: Mapping[int, Answer], pass_percent: int = DEFAULT_PASS_PERCENT) -> Score:
    """One participant's score over the event's quiz questions; ``answers`` maps poll id → their answer."""
    questions = [p for p in quiz if p.quiz]
    right = sum(1 for p in questions if p.id in answers and is_correct(p, answers[p.id]))
    answered = sum(1 for p in questions if p.id in answers)
    return Score(correct=right, answered=answered, total=len(questions), pass_percent=pass_percent)


def valid_pass_percent(value: int) -> bool:
    return 1 <= value <= 100
