"""Quiz scores: exactly right answers over all the quiz's questions, against the pass mark."""

from polls.lifecycle import draft
from polls.model import PollKind
from polls.scoring import is_correct, score, valid_pass_percent

Q1 = draft(1, PollKind.SINGLE, "q1", ["a", "b"], quiz=True, correct=[1])
Q2 = draft(2, PollKind.MULTIPLE, "q2", ["a", "b", "c"], quiz=True, correct=[0, 2])
POLL = draft(3, PollKind.SINGLE, "not a quiz", ["a", "b"])


def test_exact_answers_only() -> None:
    assert is_correct(Q1, 1) and not is_correct(Q1, 0) and not is_correct(Q1, (1,))
    assert is_correct(Q2, (0, 2)) and not is_correct(Q2, (0,)) and not is_correct(Q2, 0)
    assert not is_correct(POLL, 0)


def test_score_counts_unanswered_as_wrong_and_ignores_plain_polls() -> None:
    s = score([Q1, Q2, POLL], {1: 1, 3: 0}, pass_percent=50)
    assert (s.correct, s.answered, s.total, s.percent, s.passed) == (1, 1, 2, 50, True)
    assert not score([Q1, Q2], {1: 1}, pass_percent=60).passed
    empty = score([], {})
    assert empty.percent == 0 and not empty.passed


def test_pass_mark_bounds() -> None:
    assert valid_pass_percent(1) and valid_pass_percent(100)
    assert not valid_pass_percent(0) and not valid_pass_percent(101)
