import pytest

from moderation.errors import Refused
from moderation.model import Actor
from moderation.model import QuestionStatus as S
from moderation.votes import unvote, vote
from tests.moderation.factories import BANNED, EXPERT, MUTED, OTHER_VIEWER, VIEWER, question


@pytest.mark.parametrize("status", [S.APPROVED, S.ANSWERING])
def test_vote_and_unvote(status: S) -> None:
    q = question(1, status, asker_id=VIEWER.participant_id, votes=4)
    out = vote(q, OTHER_VIEWER, has_voted=False, now=2.0)
    assert out.questions[0].votes == 5 and out.audit == ()
    (event,) = out.events
    assert (event.type, event.data) == ("question.votes", {"votes": 5, "voter": 2, "at": 2.0})
    assert unvote(out.questions[0], OTHER_VIEWER, has_voted=True, now=3.0).questions[0].votes == 4


def test_staff_may_vote() -> None:
    assert vote(question(1), EXPERT, has_voted=False, now=1.0).questions[0].votes == 1


def test_vote_refusals() -> None:
    q = question(1, asker_id=1, askers=frozenset({1, 2}))
    for voter, code in [
        (VIEWER, "own_question"),
        (OTHER_VIEWER, "own_question"),
        (MUTED, "muted"),
        (BANNED, "banned"),
    ]:
        with pytest.raises(Refused) as info:
            vote(q, voter, has_voted=False, now=1.0)
        assert info.value.code == code
    with pytest.raises(Refused, match="already_voted"):
        vote(question(1), OTHER_VIEWER, has_voted=True, now=1.0)
    with pytest.raises(Refused, match="not_voted"):
        unvote(question(1), OTHER_VIEWER, has_voted=False, now=1.0)


@pytest.mark.parametrize(
    ("status", "code"),
    [(S.ANSWERED, "closed"), (S.PENDING, "not_found"), (S.REJECTED, "not_found"), (S.MERGED, "not_found")],
)
def test_only_open_public_questions_take_votes(status: S, code: str) -> None:
    for command in (vote, unvote):
        with pytest.raises(Refused) as info:
            command(question(1, status), OTHER_VIEWER, has_voted=command is unvote, now=1.0)
        assert info.value.code == code


def test_muted_may_withdraw_but_banned_may_not() -> None:
    assert unvote(question(1, votes=1), MUTED, has_voted=True, now=1.0).questions[0].votes == 0
    banned: Actor = BANNED
    with pytest.raises(Refused, match="banned"):
        unvote(question(1, votes=1), banned, has_voted=True, now=1.0)
