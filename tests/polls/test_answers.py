"""Who may answer, when, once, and what each kind of answer must look like."""

from typing import Any

import pytest

from polls.answers import accept, may_answer, normalise
from polls.errors import Refused
from polls.lifecycle import draft, transition
from polls.model import Poll, PollKind, PollState, Respondent, Voter

VIEWER = Respondent(7, group="construction")


def opened(poll: Poll, at: float = 100.0) -> Poll:
    return transition(poll, PollState.OPEN, at)


SINGLE = opened(draft(1, PollKind.SINGLE, "q", ["a", "b", "c"]))
MULTIPLE = opened(draft(2, PollKind.MULTIPLE, "q", ["a", "b", "c"]))
RATING = opened(draft(3, PollKind.RATING, "q"))
OPEN_TEXT = opened(draft(4, PollKind.OPEN, "q"))
RANKING = opened(draft(5, PollKind.RANKING, "q", ["a", "b", "c"]))
QUIZ = opened(draft(6, PollKind.SINGLE, "q", ["a", "b"], quiz=True, correct=[1], time_limit_s=30))


@pytest.mark.parametrize(
    ("poll", "raw", "expected"),
    [
        (SINGLE, 2, 2),
        (MULTIPLE, [2, 0], (0, 2)),
        (RATING, 5, 5),
        (OPEN_TEXT, "  基坑   监测 \n 预警 ", "基坑 监测 预警"),
        (RANKING, [2, 0, 1], (2, 0, 1)),
        (RANKING, (1, 0, 2), (1, 0, 2)),
    ],
)
def test_answers_are_normalised(poll: Poll, raw: Any, expected: Any) -> None:
    assert accept(poll, VIEWER, raw, 101.0, has_answered=False, event_over=False) == expected


@pytest.mark.parametrize(
    ("poll", "raw", "code"),
    [
        (SINGLE, 3, "invalid"),
        (SINGLE, -1, "invalid"),
        (SINGLE, True, "invalid"),
        (SINGLE, "1", "invalid"),
        (MULTIPLE, [], "invalid"),
        (MULTIPLE, [0, 0], "invalid"),
        (MULTIPLE, [0, 1, 2, 0], "invalid"),
        (MULTIPLE, 1, "invalid"),
        (RATING, 0, "invalid"),
        (RATING, 6, "invalid"),
        (RATING, 4.5, "invalid"),
        (RATING, False, "invalid"),
        (OPEN_TEXT, "   ", "invalid"),
        (OPEN_TEXT, 3, "invalid"),
        (OPEN_TEXT, "长" * 201, "too_long"),
        (RANKING, [0, 1], "invalid"),
        (RANKING, [0, 1, 5], "invalid"),
    ],
)
def test_bad_answers_are_refused(poll: Poll, raw: Any, code: str) -> None:
    with pytest.raises(Refused) as err:
        normalise(poll, raw)
    assert err.value.code == code


def test_vote_once() -> None:
    with pytest.raises(Refused) as err:
        accept(SINGLE, VIEWER, 0, 101.0, has_answered=True, event_over=False)
    assert err.value.code == "already_answered"


@pytest.mark.parametrize(
    ("who", "poll", "code"),
    [
        (Respondent(1, voter=Voter.STAFF), SINGLE, "forbidden"),
        (Respondent(1, standing="banned"), SINGLE, "banned"),
        (Respondent(1, standing="muted"), OPEN_TEXT, "muted"),
        (Respondent(1, registered=False), QUIZ, "registration_required"),
    ],
)
def test_who_may_not_answer(who: Respondent, poll: Poll, code: str) -> None:
    with pytest.raises(Refused) as err:
        may_answer(poll, who, 101.0, event_over=False)
    assert err.value.code == code


def test_a_muted_participant_may_still_choose_and_anonymous_ones_may_vote() -> None:
    may_answer(SINGLE, Respondent(1, standing="muted"), 101.0, event_over=False)
    may_answer(SINGLE, Respondent(1, registered=False), 101.0, event_over=False)


def test_closing_and_time_limits() -> None:
    with pytest.raises(Refused, match="not_open"):
        may_answer(draft(9, PollKind.RATING, "q"), VIEWER, 1.0, event_over=False)
    with pytest.raises(Refused, match="closed"):
        may_answer(transition(RATING, PollState.CLOSED, 200.0), VIEWER, 201.0, event_over=False)
    may_answer(QUIZ, VIEWER, 129.0, event_over=False)
    with pytest.raises(Refused, match="closed"):
        may_answer(QUIZ, VIEWER, 130.0, event_over=False)


def test_after_the_event_a_published_quiz_stays_answerable_but_polls_and_drafts_do_not() -> None:
    may_answer(transition(QUIZ, PollState.CLOSED, 120.0), VIEWER, 9e9, event_over=True)
    with pytest.raises(Refused, match="closed"):
        may_answer(transition(RATING, PollState.CLOSED, 120.0), VIEWER, 9e9, event_over=True)
    with pytest.raises(Refused, match="closed"):
        may_answer(RATING, VIEWER, 101.0, event_over=True)
    unpublished = draft(10, PollKind.SINGLE, "q", ["a", "b"], quiz=True, correct=[0])
    with pytest.raises(Refused, match="not_open"):
        may_answer(unpublished, VIEWER, 9e9, event_over=True)
