from moderation.errors import Refused
from moderation.model import Actor, Question, QuestionStatus, Role, Standing, is_public


def test_staff_and_moderators() -> None:
    assert not Actor(1, Role.VIEWER).is_staff
    assert Actor(1, Role.EXPERT).is_staff
    assert not Actor(1, Role.EXPERT).can_moderate
    assert Actor(1, Role.MODERATOR).can_moderate
    assert Actor(1, Role.ADMIN).can_moderate and Actor(1, Role.ADMIN).is_staff


def test_active_standing() -> None:
    assert Actor(1, Role.VIEWER).is_active
    assert not Actor(1, Role.VIEWER, Standing.MUTED).is_active


def test_question_defaults_include_the_asker() -> None:
    q = Question(id=1, event_id=2, asker_id=3, text="t", status=QuestionStatus.PENDING, created_at=0.0)
    assert q.askers == {3}
    assert q.votes == 0 and not q.pinned and q.original_text is None
    merged = Question(1, 2, 3, "t", QuestionStatus.PENDING, 0.0, askers=frozenset({3, 4}))
    assert merged.askers == {3, 4}


def test_only_approved_answering_answered_are_public() -> None:
    public = {s for s in QuestionStatus if is_public(s)}
    assert public == {QuestionStatus.APPROVED, QuestionStatus.ANSWERING, QuestionStatus.ANSWERED}


def test_refused_carries_code_detail_and_retry() -> None:
    r = Refused("rate_limited", "slow down", 3.0)
    assert (r.code, r.detail, r.retry_after) == ("rate_limited", "slow down", 3.0)
    assert str(r) == "rate_limited: slow down"
    assert str(Refused("muted")) == "muted"
