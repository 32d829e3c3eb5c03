import pytest

from moderation.answering import mark_answered, start_answering
from moderation.errors import Refused
from moderation.model import Question
from moderation.model import QuestionStatus as S
from tests.moderation.factories import EXPERT, MODERATOR, VIEWER, question


def test_start_answering_approved_question() -> None:
    q = question(1, pinned=True, askers=frozenset({1, 4}))
    out = start_answering(q, EXPERT, 5.0, None)
    (new,) = out.questions
    assert (new.status, new.answering_at, new.pinned) == (S.ANSWERING, 5.0, False)
    (event,) = out.events
    assert (event.type, event.notify) == ("question.answering", frozenset({1, 4}))
    (entry,) = out.audit
    assert (entry.actor_id, entry.action) == (10, "answering")
    assert "finished" not in entry.after


def test_previous_answering_becomes_answered() -> None:
    current = question(2, S.ANSWERING, asker_id=3)
    out = start_answering(question(1), MODERATOR, 5.0, current)
    done, new = out.questions
    assert (done.id, done.status, done.answered_at) == (2, S.ANSWERED, 5.0)
    assert new.status is S.ANSWERING
    assert [(e.type, e.notify) for e in out.events] == [
        ("question.answered", frozenset({3})),
        ("question.answering", frozenset({1})),
    ]
    assert len(out.audit) == 1 and out.audit[0].after["finished"] == 2


@pytest.mark.parametrize("current", [question(2, S.APPROVED), question(2, S.ANSWERING, event_id=99)])
def test_stale_current_is_refused(current: Question) -> None:
    with pytest.raises(Refused, match="answering_elsewhere"):
        start_answering(question(1), EXPERT, 5.0, current)


@pytest.mark.parametrize("status", [S.PENDING, S.ANSWERING, S.ANSWERED, S.REJECTED, S.MERGED])
def test_start_answering_needs_approved(status: S) -> None:
    with pytest.raises(Refused, match="illegal_transition"):
        start_answering(question(1, status), EXPERT, 5.0, None)


def test_viewers_cannot_answer() -> None:
    with pytest.raises(Refused, match="forbidden"):
        start_answering(question(1), VIEWER, 5.0, None)
    with pytest.raises(Refused, match="forbidden"):
        mark_answered(question(1), VIEWER, 5.0, None)


@pytest.mark.parametrize("status", [S.APPROVED, S.ANSWERING])
def test_mark_answered_with_typed_answer(status: S) -> None:
    out = mark_answered(question(1, status, pinned=status is S.APPROVED), EXPERT, 9.0, "  Use sheet piles. ")
    (new,) = out.questions
    assert (new.status, new.answered_at, new.answer_text, new.pinned) == (
        S.ANSWERED,
        9.0,
        "Use sheet piles.",
        False,
    )
    assert out.events[0].type == "question.answered" and out.audit[0].action == "answered"


def test_blank_answer_keeps_the_previous_one() -> None:
    q = question(1, answer_text="earlier")
    assert mark_answered(q, EXPERT, 9.0, None).questions[0].answer_text == "earlier"
    assert mark_answered(q, EXPERT, 9.0, "  ").questions[0].answer_text == "earlier"
    assert mark_answered(question(1), EXPERT, 9.0, None).questions[0].answer_text is None


@pytest.mark.parametrize("status", [S.PENDING, S.ANSWERED, S.REJECTED, S.MERGED])
def test_mark_answered_refuses_other_states(status: S) -> None:
    with pytest.raises(Refused, match="illegal_transition"):
        mark_answered(question(1, status), EXPERT, 9.0, None)
