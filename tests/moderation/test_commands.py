import pytest

from moderation.commands import approve, edit, reject, reopen, submit
from moderation.errors import Refused
from moderation.model import Actor, ModerationMode, RejectReason
from moderation.model import QuestionStatus as S
from moderation.rules import Action, Verdict
from tests.moderation.factories import ADMIN, BANNED, EXPERT, MODERATOR, MUTED, VIEWER, question

ALLOW = Verdict(Action.ALLOW)


def test_submit_post_mode_allow_is_approved() -> None:
    out = submit(
        question_id=5,
        event_id=7,
        asker=VIEWER,
        text="  How deep? ",
        anonymous=True,
        now=3.0,
        mode=ModerationMode.POST,
        verdict=ALLOW,
        topic="基坑",
        pre_submitted=True,
    )
    (q,) = out.questions
    assert (q.status, q.approved_at, q.text, q.anonymous, q.topic, q.pre_submitted) == (
        S.APPROVED,
        3.0,
        "How deep?",
        True,
        "基坑",
        True,
    )
    assert q.askers == {VIEWER.participant_id} and q.held_reason is None
    assert [e.type for e in out.events] == ["question.submitted", "question.approved"]
    assert out.audit == ()


def test_submit_pre_mode_allow_is_pending() -> None:
    out = submit(
        question_id=5,
        event_id=7,
        asker=EXPERT,
        text="q?",
        anonymous=False,
        now=3.0,
        mode=ModerationMode.PRE,
        verdict=ALLOW,
    )
    assert out.questions[0].status is S.PENDING and out.questions[0].approved_at is None
    assert [e.type for e in out.events] == ["question.submitted"]


def test_submit_hold_stays_pending_even_in_post_mode() -> None:
    verdict = Verdict(Action.HOLD, "duplicate", "0.80", duplicate_of=2)
    out = submit(
        question_id=5,
        event_id=7,
        asker=VIEWER,
        text="q?",
        anonymous=False,
        now=3.0,
        mode=ModerationMode.POST,
        verdict=verdict,
    )
    (q,) = out.questions
    assert (q.status, q.duplicate_of, q.held_reason) == (S.PENDING, 2, "duplicate")


def test_submit_reject_raises_the_verdict() -> None:
    verdict = Verdict(Action.REJECT, "rate_limited", retry_after=12.5)
    with pytest.raises(Refused) as info:
        submit(
            question_id=5,
            event_id=7,
            asker=VIEWER,
            text="q?",
            anonymous=False,
            now=3.0,
            mode=ModerationMode.POST,
            verdict=verdict,
        )
    assert (info.value.code, info.value.retry_after) == ("rate_limited", 12.5)
    with pytest.raises(Refused, match="rejected"):
        submit(
            question_id=5,
            event_id=7,
            asker=VIEWER,
            text="q?",
            anonymous=False,
            now=3.0,
            mode=ModerationMode.POST,
            verdict=Verdict(Action.REJECT),
        )


@pytest.mark.parametrize(("asker", "code"), [(MUTED, "muted"), (BANNED, "banned")])
def test_submit_refuses_muted_and_banned_even_with_allow(asker: Actor, code: str) -> None:
    with pytest.raises(Refused, match=code):
        submit(
            question_id=5,
            event_id=7,
            asker=asker,
            text="q?",
            anonymous=False,
            now=3.0,
            mode=ModerationMode.POST,
            verdict=ALLOW,
        )


def test_approve_pending() -> None:
    q = question(status=S.PENDING, held_reason="link", askers=frozenset({1, 2}))
    out = approve(q, MODERATOR, 9.0)
    (new,) = out.questions
    assert (new.status, new.approved_at, new.held_reason) == (S.APPROVED, 9.0, None)
    (event,) = out.events
    assert (event.type, event.previous_status, event.notify) == (
        "question.approved",
        S.PENDING,
        frozenset({1, 2}),
    )
    (entry,) = out.audit
    assert (entry.actor_id, entry.action, entry.at, entry.question_id) == (11, "approve", 9.0, 1)
    assert entry.before["status"] == "pending" and entry.after["status"] == "approved"


@pytest.mark.parametrize("actor", [VIEWER, EXPERT])
def test_only_moderators_approve(actor: Actor) -> None:
    with pytest.raises(Refused, match="forbidden"):
        approve(question(status=S.PENDING), actor, 1.0)


@pytest.mark.parametrize("status", [S.APPROVED, S.REJECTED, S.ANSWERED, S.MERGED])
def test_approve_only_from_pending(status: S) -> None:
    with pytest.raises(Refused, match="illegal_transition: expected status pending"):
        approve(question(status=status), ADMIN, 1.0)


def test_edit_keeps_the_first_original() -> None:
    q = question(status=S.APPROVED, text="frist")
    once = edit(q, MODERATOR, " first ", 2.0).questions[0]
    assert (once.text, once.original_text, once.status) == ("first", "frist", S.APPROVED)
    twice = edit(once, MODERATOR, "First!", 3.0)
    assert twice.questions[0].original_text == "frist"
    assert twice.events[0].type == "question.updated" and twice.events[0].notify == frozenset()
    assert twice.audit[0].action == "edit"
    assert twice.audit[0].before["text"] == "first" and twice.audit[0].after["text"] == "First!"


def test_edit_unchanged_text_sets_no_original() -> None:
    q = question(text="same")
    assert edit(q, MODERATOR, "same", 2.0).questions[0].original_text is None


def test_edit_and_approve_in_one_action() -> None:
    q = question(status=S.PENDING, text="raw")
    out = edit(q, MODERATOR, "clean", 2.0, approve=True)
    (new,) = out.questions
    assert (new.status, new.text, new.original_text, new.approved_at) == (S.APPROVED, "clean", "raw", 2.0)
    assert [(e.type, e.data) for e in out.events] == [("question.approved", {"edited": True})]
    assert len(out.audit) == 1 and out.audit[0].action == "edit_approve"


def test_edit_refusals() -> None:
    with pytest.raises(Refused, match="too_short"):
        edit(question(), MODERATOR, "   ", 1.0)
    with pytest.raises(Refused, match="forbidden"):
        edit(question(), EXPERT, "x", 1.0)
    with pytest.raises(Refused, match="illegal_transition"):
        edit(question(status=S.MERGED), MODERATOR, "x", 1.0)
    with pytest.raises(Refused, match="illegal_transition"):
        edit(question(status=S.APPROVED), MODERATOR, "x", 1.0, approve=True)


@pytest.mark.parametrize("status", [S.PENDING, S.APPROVED])
def test_reject_with_reason(status: S) -> None:
    q = question(status=status, pinned=status is S.APPROVED)
    out = reject(q, MODERATOR, RejectReason.OFF_TOPIC, "  not about pits ", 4.0)
    (new,) = out.questions
    assert (new.status, new.reason_code, new.reason_text, new.pinned) == (
        S.REJECTED,
        RejectReason.OFF_TOPIC,
        "not about pits",
        False,
    )
    (event,) = out.events
    assert event.data == {"reason": "off_topic", "text": "not about pits"} and event.notify == {1}
    assert out.audit[0].reason == "off_topic"


def test_reject_without_text_and_refusals() -> None:
    new = reject(question(), ADMIN, RejectReason.SPAM, None, 4.0).questions[0]
    assert new.reason_text is None
    assert reject(question(), ADMIN, RejectReason.SPAM, "  ", 4.0).questions[0].reason_text is None
    with pytest.raises(Refused, match="illegal_transition"):
        reject(question(status=S.ANSWERED), ADMIN, RejectReason.SPAM, None, 4.0)
    with pytest.raises(Refused, match="forbidden"):
        reject(question(), EXPERT, RejectReason.SPAM, None, 4.0)


def test_reopen_rejected_clears_reason_and_sets_approved_at() -> None:
    q = question(status=S.REJECTED, reason_code=RejectReason.UNCLEAR, reason_text="?")
    out = reopen(q, MODERATOR, 6.0)
    (new,) = out.questions
    assert (new.status, new.reason_code, new.reason_text, new.approved_at) == (S.APPROVED, None, None, 6.0)
    assert out.events[0].type == "question.reopened" and out.events[0].notify == {1}
    with pytest.raises(Refused, match="forbidden"):
        reopen(q, EXPERT, 6.0)


@pytest.mark.parametrize("status", [S.ANSWERED, S.ANSWERING])
def test_staff_reopen_answered_keeps_answer_text(status: S) -> None:
    q = question(status=status, answer_text="use piles", answered_at=5.0, answering_at=4.0, approved_at=2.0)
    new = reopen(q, EXPERT, 6.0).questions[0]
    assert (new.status, new.answer_text, new.answered_at, new.answering_at, new.approved_at) == (
        S.APPROVED,
        "use piles",
        None,
        None,
        2.0,
    )
    with pytest.raises(Refused, match="forbidden"):
        reopen(q, VIEWER, 6.0)


@pytest.mark.parametrize("status", [S.PENDING, S.APPROVED, S.MERGED])
def test_reopen_refuses_other_states(status: S) -> None:
    with pytest.raises(Refused, match="illegal_transition"):
        reopen(question(status=status), ADMIN, 1.0)
