"""Polls are drafted with a valid shape, changed only as drafts, opened once and closed once."""

import pytest

from polls.errors import Refused
from polls.lifecycle import IllegalTransition, draft, expire, revise, transition
from polls.model import Audience, PollKind, PollState


def test_a_draft_opens_then_closes_with_timestamps() -> None:
    p = draft(1, PollKind.SINGLE, " 基坑支护选哪种？ ", ["排桩", "地下连续墙"])
    assert p.state == PollState.DRAFT and p.prompt == "基坑支护选哪种？" and p.deadline is None
    opened = transition(p, PollState.OPEN, 100.0)
    assert opened.state == PollState.OPEN and opened.opened_at == 100.0
    closed = transition(opened, PollState.CLOSED, 130.0)
    assert closed.closed_at == 130.0


@pytest.mark.parametrize(
    ("start", "target"),
    [(PollState.DRAFT, PollState.CLOSED), (PollState.CLOSED, PollState.OPEN), (PollState.OPEN, PollState.OPEN)],
)
def test_illegal_moves_name_expected_and_actual(start: PollState, target: PollState) -> None:
    p = draft(1, PollKind.RATING, "How useful?")
    if start != PollState.DRAFT:
        p = transition(p, PollState.OPEN, 1.0)
    if start == PollState.CLOSED:
        p = transition(p, PollState.CLOSED, 2.0)
    with pytest.raises(IllegalTransition) as err:
        transition(p, target, 3.0)
    assert err.value.code == "illegal_transition" and f"actual {start.value!r}" in str(err.value)
    assert err.value.current == start and err.value.target == target


def test_reopening_a_closed_poll_expects_nothing() -> None:
    p = transition(transition(draft(1, PollKind.OPEN, "一句话"), PollState.OPEN, 1), PollState.CLOSED, 2)
    with pytest.raises(IllegalTransition, match="expected state draft"):
        transition(p, PollState.OPEN, 3)


def test_a_timed_poll_expires_at_its_deadline() -> None:
    p = transition(draft(1, PollKind.SINGLE, "q", ["a", "b"], time_limit_s=30), PollState.OPEN, 100.0)
    assert p.deadline == 130.0
    assert expire(p, 129.9) is p
    gone = expire(p, 500.0)
    assert gone.state == PollState.CLOSED and gone.closed_at == 130.0
    untimed = transition(draft(2, PollKind.RATING, "q"), PollState.OPEN, 0.0)
    assert expire(untimed, 1e9) is untimed


@pytest.mark.parametrize(
    ("kind", "prompt", "options", "extra", "why"),
    [
        (PollKind.SINGLE, "  ", ["a", "b"], {}, "prompt"),
        (PollKind.SINGLE, "x" * 501, ["a", "b"], {}, "prompt"),
        (PollKind.SINGLE, "q", ["a"], {}, "options"),
        (PollKind.RANKING, "q", [str(i) for i in range(11)], {}, "options"),
        (PollKind.MULTIPLE, "q", ["a", " "], {}, "characters"),
        (PollKind.MULTIPLE, "q", ["a", "a "], {}, "differ"),
        (PollKind.RATING, "q", ["a", "b"], {}, "no options"),
        (PollKind.OPEN, "q", [], {"quiz": True, "correct": [0]}, "single or multiple"),
        (PollKind.SINGLE, "q", ["a", "b"], {"quiz": True}, "correct option"),
        (PollKind.SINGLE, "q", ["a", "b"], {"quiz": True, "correct": [2]}, "correct option"),
        (PollKind.SINGLE, "q", ["a", "b"], {"quiz": True, "correct": [0, 1]}, "exactly one"),
        (PollKind.SINGLE, "q", ["a", "b"], {"correct": [0]}, "only a quiz"),
        (PollKind.SINGLE, "q", ["a", "b"], {"time_limit_s": 4}, "time limit"),
        (PollKind.SINGLE, "q", ["a", "b"], {"time_limit_s": 3601}, "time limit"),
    ],
)
def test_bad_shapes_are_refused(kind: PollKind, prompt: str, options: list[str], extra: dict, why: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(Refused, match=why) as err:
        draft(1, kind, prompt, options, **extra)
    assert err.value.code == "invalid"


def test_a_quiz_question_keeps_its_correct_options() -> None:
    q = draft(3, PollKind.MULTIPLE, "哪些是质量通病？", ["渗漏", "开裂", "BIM"], quiz=True, correct=[0, 1])
    assert q.quiz and q.correct == frozenset({0, 1})
    staff_only = draft(4, PollKind.OPEN, "one word", results_to=Audience.STAFF, time_limit_s=60)
    assert staff_only.results_to == Audience.STAFF and staff_only.time_limit_s == 60


def test_only_a_draft_can_be_revised() -> None:
    p = draft(5, PollKind.SINGLE, "q", ["a", "b"])
    changed = revise(p, draft(0, PollKind.SINGLE, "q2", ["a", "b", "c"]))
    assert changed.id == 5 and changed.options == ("a", "b", "c")
    with pytest.raises(Refused) as err:
        revise(transition(p, PollState.OPEN, 1.0), changed)
    assert err.value.code == "not_draft" and str(err.value).startswith("not_draft: poll 5 is open")
    assert str(Refused("closed")) == "closed"
