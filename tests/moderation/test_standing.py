import pytest

from moderation.errors import Refused
from moderation.model import Actor, ModerationMode, Standing
from moderation.standing import set_mode, set_standing
from tests.moderation.factories import ADMIN, EXPERT, MODERATOR, MUTED, VIEWER


def test_mute_a_viewer() -> None:
    out = set_standing(VIEWER, MODERATOR, Standing.MUTED, "flooding", 4.0)
    assert out.questions == ()
    (event,) = out.events
    assert (event.type, event.notify, event.question) == ("participant.standing", frozenset({1}), None)
    assert event.data == {"participant_id": 1, "standing": "muted", "previous": "active"}
    (entry,) = out.audit
    assert (entry.actor_id, entry.action, entry.participant_id, entry.reason) == (
        11,
        "standing",
        1,
        "flooding",
    )
    assert (entry.before, entry.after) == ({"standing": "active"}, {"standing": "muted"})


def test_unmute() -> None:
    assert set_standing(MUTED, ADMIN, Standing.ACTIVE, None, 4.0).events[0].data["standing"] == "active"


@pytest.mark.parametrize("target", [EXPERT, MODERATOR, ADMIN])
def test_staff_cannot_be_targeted(target: Actor) -> None:
    with pytest.raises(Refused, match="forbidden"):
        set_standing(target, ADMIN, Standing.BANNED, None, 4.0)


@pytest.mark.parametrize("actor", [VIEWER, EXPERT])
def test_only_moderators_set_standing_or_mode(actor: Actor) -> None:
    with pytest.raises(Refused, match="forbidden"):
        set_standing(VIEWER, actor, Standing.BANNED, None, 4.0)
    with pytest.raises(Refused, match="forbidden"):
        set_mode(actor, ModerationMode.POST, 4.0)


def test_set_mode() -> None:
    out = set_mode(MODERATOR, ModerationMode.POST, 4.0)
    assert [(e.type, e.data) for e in out.events] == [("event.mode", {"mode": "post"})]
    assert out.audit[0].action == "mode" and out.audit[0].after == {"mode": "post"}
