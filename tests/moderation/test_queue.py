import pytest

from moderation.errors import Refused
from moderation.model import ModerationMode, RejectReason, Standing
from moderation.model import QuestionStatus as S
from moderation.queue import Queue
from moderation.rules import RulesConfig
from tests.moderation.factories import ADMIN, EXPERT, MODERATOR, OTHER_VIEWER, VIEWER

POST = Queue(event_id=7, mode=ModerationMode.POST)


def test_submit_assigns_ids_and_judges_with_the_rules() -> None:
    q1, out = POST.submit(VIEWER, "基坑开挖引起的周边沉降怎么控制？", 0.0)
    assert out.questions[0].id == 1 and q1.get(1).status is S.APPROVED
    q2, out = q1.submit(OTHER_VIEWER, "请问基坑开挖导致周边沉降如何控制", 1.0, anonymous=True, topic="基坑")
    held = q2.get(2)
    assert (held.status, held.duplicate_of, held.held_reason, held.anonymous) == (
        S.PENDING,
        1,
        "duplicate",
        True,
    )
    q3, _ = q2.submit(EXPERT, "盾构施工 BIM 应用", 2.0, question_id=10, pre_submitted=True)
    assert q3.get(10).pre_submitted
    with pytest.raises(ValueError, match="already exists"):
        q3.submit(EXPERT, "another one", 3.0, question_id=10)


def test_rate_limit_uses_the_askers_last_question() -> None:
    q1, _ = POST.submit(VIEWER, "first question", 0.0)
    with pytest.raises(Refused) as info:
        q1.submit(VIEWER, "second question", 10.0)
    assert (info.value.code, info.value.retry_after) == ("rate_limited", 20.0)
    q1.submit(OTHER_VIEWER, "second question", 10.0)


def test_rejected_and_merged_questions_are_not_duplicate_candidates() -> None:
    q1, _ = POST.submit(VIEWER, "基坑沉降控制", 0.0)
    q2, _ = q1.reject(1, MODERATOR, RejectReason.OFF_TOPIC, None, 1.0)
    q3, _ = q2.submit(OTHER_VIEWER, "基坑沉降控制", 2.0)
    assert q3.get(2).duplicate_of is None


def test_get_missing_is_not_found() -> None:
    with pytest.raises(Refused, match="not_found"):
        POST.get(1)


def test_votes_merge_and_standing_flow() -> None:
    q, _ = POST.submit(VIEWER, "沉降监测频率是多少", 0.0)
    q, _ = q.submit(OTHER_VIEWER, "请问沉降监测的频率是多少？", 1.0)
    q, _ = q.approve(2, MODERATOR, 2.0)
    q, _ = q.vote(1, OTHER_VIEWER, 3.0)
    q, _ = q.vote(2, VIEWER, 3.0)
    q, _ = q.vote(1, EXPERT, 3.0)
    q, _ = q.vote(2, EXPERT, 3.0)
    with pytest.raises(Refused, match="already_voted"):
        q.vote(1, EXPERT, 3.0)
    q, _ = q.merge(2, 1, MODERATOR, 4.0)
    assert q.get(1).askers == {1, 2} and q.get(1).votes == 1 and q.voters == {1: {EXPERT.participant_id}}
    assert q.get(2).merged_into == 1 and q.get(2).votes == 0
    q, _ = q.unvote(1, EXPERT, 5.0)
    assert q.get(1).votes == 0 and q.voters[1] == frozenset()
    q, _ = q.set_standing(VIEWER, MODERATOR, Standing.MUTED, "spam", 6.0)
    assert q.as_actor(VIEWER).standing is Standing.MUTED
    with pytest.raises(Refused, match="muted"):
        q.submit(VIEWER, "hello again", 100.0)
    assert [e.action for e in q.audit] == ["approve", "merge", "standing"]


def test_merge_chain_is_resolved() -> None:
    q = POST
    for i, text in enumerate(["桩基检测", "防水卷材", "外墙空鼓"]):
        q, _ = q.submit(VIEWER if i % 2 else OTHER_VIEWER, text, 100.0 * i)
    q, _ = q.merge(1, 2, MODERATOR, 400.0)
    q, _ = q.merge(2, 3, MODERATOR, 401.0)
    assert q.get(1).merged_into == 3 and q.get(2).merged_into == 3
    assert q.get(3).askers == {1, 2}


def test_answering_pin_reorder_mode() -> None:
    q = POST
    for i, text in enumerate(["基坑支护", "盾构掘进", "降水井布置"]):
        q, _ = q.submit(VIEWER, text, 100.0 * i)
    q, _ = q.pin(1, MODERATOR, 300.0, True)
    q, _ = q.pin(2, MODERATOR, 301.0, True)
    assert q.pinned() == q.get(2) and not q.get(1).pinned
    q, _ = q.reorder(3, ADMIN, 302.0, 0.5)
    assert q.get(3).position == 0.5
    q, _ = q.start_answering(2, EXPERT, 303.0)
    assert q.answering() == q.get(2) and q.pinned() is None
    q, _ = q.start_answering(1, EXPERT, 304.0)
    assert q.get(2).status is S.ANSWERED and q.answering() == q.get(1)
    q, _ = q.mark_answered(1, EXPERT, 305.0, "answer")
    q, _ = q.reopen(1, EXPERT, 306.0)
    q, _ = q.edit(3, MODERATOR, "question number three", 307.0)
    q, _ = q.set_mode(MODERATOR, ModerationMode.PRE, 308.0)
    assert q.mode is ModerationMode.PRE
    q, _ = q.submit(VIEWER, "a pending one", 400.0)
    assert q.get(4).status is S.PENDING
    assert len(q.audit) == 9


def test_custom_rules() -> None:
    q = Queue(event_id=7, rules=RulesConfig(min_length=10))
    with pytest.raises(Refused, match="too_short"):
        q.submit(VIEWER, "short", 0.0)
