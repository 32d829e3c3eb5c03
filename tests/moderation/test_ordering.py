import math

import pytest

from moderation.errors import Refused
from moderation.model import QuestionStatus as S
from moderation.ordering import pin, reorder
from tests.moderation.factories import EXPERT, MODERATOR, question


def test_pin_unpins_the_other() -> None:
    other = question(2, pinned=True)
    out = pin(question(1), MODERATOR, 3.0, True, other)
    unpinned, pinned = out.questions
    assert (unpinned.id, unpinned.pinned, pinned.id, pinned.pinned) == (2, False, 1, True)
    assert [(e.type, e.data) for e in out.events] == [
        ("question.pinned", {"pinned": False}),
        ("question.pinned", {"pinned": True}),
    ]
    (entry,) = out.audit
    assert (entry.action, entry.after["unpinned"], entry.after["pinned"]) == ("pin", 2, True)


def test_pin_again_and_unpin() -> None:
    q = question(1, pinned=True)
    assert pin(q, MODERATOR, 3.0, True, q).questions == (q,)
    out = pin(q, MODERATOR, 3.0, False, q)
    assert out.questions[0].pinned is False and out.audit[0].action == "unpin"
    assert pin(question(1, S.ANSWERED), MODERATOR, 3.0, False).questions[0].pinned is False


def test_pin_refusals() -> None:
    with pytest.raises(Refused, match="illegal_transition"):
        pin(question(1, S.PENDING), MODERATOR, 3.0, True)
    with pytest.raises(Refused, match="forbidden"):
        pin(question(1), EXPERT, 3.0, True)
    with pytest.raises(ValueError, match="not in event"):
        pin(question(1), MODERATOR, 3.0, True, question(2, event_id=99, pinned=True))


@pytest.mark.parametrize("status", [S.PENDING, S.APPROVED])
def test_reorder_sets_and_clears_position(status: S) -> None:
    out = reorder(question(1, status), MODERATOR, 3.0, 1.5)
    assert out.questions[0].position == 1.5
    assert (out.events[0].type, out.events[0].data) == ("question.reordered", {"position": 1.5})
    assert out.audit[0].after["position"] == 1.5
    assert reorder(out.questions[0], MODERATOR, 4.0, None).questions[0].position is None


@pytest.mark.parametrize("position", [math.nan, math.inf, -math.inf])
def test_reorder_refuses_non_finite(position: float) -> None:
    with pytest.raises(Refused, match="invalid_position"):
        reorder(question(1), MODERATOR, 3.0, position)


def test_reorder_refusals() -> None:
    with pytest.raises(Refused, match="illegal_transition"):
        reorder(question(1, S.ANSWERED), MODERATOR, 3.0, 1.0)
    with pytest.raises(Refused, match="forbidden"):
        reorder(question(1), EXPERT, 3.0, 1.0)
