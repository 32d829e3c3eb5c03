"""An asker may reword or withdraw their own question while it is pending, and only then."""

import pytest

from moderation.errors import Refused
from moderation.model import QuestionStatus as S
from moderation.own import revise, withdraw
from moderation.rules import Action, Verdict
from tests.moderation.factories import MODERATOR, MUTED, OTHER_VIEWER, VIEWER, question

ALLOW = Verdict(Action.ALLOW)


def test_the_asker_rewords_a_pending_question() -> None:
    q = question(1, S.PENDING, held_reason="link")
    out = revise(q, VIEWER, "  基坑降水的影响范围怎么估算？ ", 5.0, ALLOW)
    new = out.questions[0]
    assert new.text == "基坑降水的影响范围怎么估算？" and new.held_reason is None and new.status is S.PENDING
    (event,) = out.events
    assert event.type == "question.updated" and event.notify == frozenset({1}) and event.data == {"by_asker": True}
    assert out.audit[0].action == "asker_edit" and out.audit[0].before["text"] == "question 1"


def test_rewording_is_judged_by_the_rules_again() -> None:
    q = question(1, S.PENDING)
    held = revise(q, VIEWER, "see example.com", 5.0, Verdict(Action.HOLD, "link", duplicate_of=None))
    assert held.questions[0].held_reason == "link"
    dup = revise(q, VIEWER, "same as 9", 5.0, Verdict(Action.HOLD, "duplicate", duplicate_of=9))
    assert dup.questions[0].duplicate_of == 9
    with pytest.raises(Refused) as err:
        revise(q, VIEWER, "spam", 5.0, Verdict(Action.REJECT, "banned_word", "spam"))
    assert err.value.code == "banned_word"
    with pytest.raises(Refused) as err:
        revise(q, VIEWER, "x", 5.0, Verdict(Action.REJECT))
    assert err.value.code == "rejected"


@pytest.mark.parametrize(
    ("status", "who", "code"),
    [
        (S.APPROVED, VIEWER, "illegal_transition"),
        (S.REJECTED, VIEWER, "illegal_transition"),
        (S.PENDING, OTHER_VIEWER, "forbidden"),
        (S.PENDING, MODERATOR, "forbidden"),
    ],
)
def test_only_the_asker_and_only_while_pending(status: S, who: object, code: str) -> None:
    q = question(1, status)
    for act in (lambda: revise(q, who, "new", 1.0, ALLOW), lambda: withdraw(q, who, 1.0)):  # type: ignore[arg-type]
        with pytest.raises(Refused) as err:
            act()
        assert err.value.code == code


def test_a_muted_asker_cannot_reword_but_may_withdraw() -> None:
    q = question(1, S.PENDING, asker_id=MUTED.participant_id)
    with pytest.raises(Refused, match="muted"):
        revise(q, MUTED, "new", 1.0, ALLOW)
    assert withdraw(q, MUTED, 1.0).events[0].type == "question.withdrawn"


def test_withdrawing_tells_the_asker_and_is_audited() -> None:
    q = question(1, S.PENDING)
    out = withdraw(q, VIEWER, 9.0)
    assert out.events[0].notify == frozenset({1}) and out.events[0].question == q
    assert out.audit[0].action == "withdraw" and out.audit[0].question_id == 1
