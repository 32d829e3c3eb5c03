"""The stage's rules, on the pure Stage (no media): who goes on air by themselves, the limit of four, grants,
what the programme is made of, and what viewers are shown."""

from __future__ import annotations

import pytest

from server.media.errors import MediaError
from server.media.layout import Rect, fit, rectangles
from server.media.stage import MAX_ON_AIR, Grant, Hand, Identity, Layout, Stage


def expert(name: str) -> Identity:
    return Identity(key=f"{name}:camera", kind="expert", name=name)


def guest(participant_id: int, question_id: int = 7) -> Identity:
    return Identity(
        key=f"guest{participant_id}:camera",
        kind="guest",
        name="Li Wei",
        organisation="Metro",
        participant_id=participant_id,
        question_id=question_id,
    )


def refused(call, status: int, code: str) -> MediaError:  # type: ignore[no-untyped-def]
    with pytest.raises(MediaError) as caught:
        call()
    assert (caught.value.status, caught.value.code) == (status, code)
    assert caught.value.message
    return caught.value


def test_the_first_expert_goes_on_air_the_next_wait_backstage() -> None:
    stage = Stage()
    first = stage.join("a", expert("alice"), True, True)
    second = stage.join("b", expert("bob"), True, True)
    screen = stage.join("s", Identity("alice:screen", "screen"), True, False)
    assert (first.on_air, second.on_air, screen.on_air) == (True, False, True)
    plan = stage.plan()
    assert (plan.mode, plan.camera, plan.screen) == ("forward", "a", "s")  # as before the stage
    refused(lambda: stage.join("a2", expert("alice"), True, True), 409, "already_publishing")


def test_an_expert_who_drops_out_on_air_comes_back_on_air(monkeypatch: pytest.MonkeyPatch) -> None:
    import server.media.stage as stage_module

    now = [1000.0]
    monkeypatch.setattr(stage_module.time, "time", lambda: now[0])
    stage = Stage()
    stage.join("a", expert("alice"), True, True)
    stage.join("b", expert("bob"), True, True)
    stage.set_on_air("b", True)
    stage.leave("b")  # Bob's connection dropped; his studio publishes again
    stage.join("c", expert("carol"), True, True)
    now[0] += 1
    stage.set_on_air("c", True)
    now[0] += 5
    assert stage.join("b2", expert("bob"), True, True).on_air is True
    assert stage.plan().members == ("a", "b2", "c")  # in his place: the layout does not move
    stage.leave("c")
    stage.leave("b2")
    now[0] += stage_module.RETURN_SECONDS + 1  # too late: the host decides again
    assert stage.join("b3", expert("bob"), True, True).on_air is False
    stage.set_on_air("b3", True)
    stage.set_on_air("b3", False)  # taken off air by the host, then gone
    stage.leave("b3")
    assert stage.join("b4", expert("bob"), True, True).on_air is False


def test_a_fifth_on_air_is_refused_with_a_message() -> None:
    stage = Stage()
    for name in "abcde":
        stage.join(name, expert(name), True, True)
    for name in "bcd":
        stage.set_on_air(name, True)
    assert len(stage.on_air()) == MAX_ON_AIR
    error = refused(lambda: stage.set_on_air("e", True), 409, "stage_full")
    assert str(MAX_ON_AIR) in error.message
    stage.set_on_air("b", False)
    stage.set_on_air("e", True)
    assert stage.plan().mode == "compose" and len(stage.plan().members) == MAX_ON_AIR


def test_a_viewer_publishes_only_with_a_grant_and_waits_backstage() -> None:
    stage = Stage()
    stage.join("a", expert("alice"), True, True)
    refused(lambda: stage.check_can_join(guest(42)), 403, "not_invited")
    stage.raise_hand(Hand(7, 42, "Li Wei", "Metro", "Is the pit safe?", 1.0))
    assert [h["question_id"] for h in stage.snapshot(staff=True)["hands"]] == [7]  # type: ignore[index]
    stage.grant(Grant(42, 7, "Li Wei", "Metro", camera=False, at=2.0))
    assert stage.hands == {}  # the raised hand was answered
    member = stage.join("g", guest(42), False, True)
    assert member.on_air is False  # nobody goes on air without a moderator's action
    stage.set_on_air("g", True)
    plan = stage.plan()
    assert plan.mode == "compose" and plan.members[0] == "g"  # the one asking is large in the speaker layout
    stage.leave("g")  # the connection dropped (or the page reloaded): the invitation stands
    stage.check_can_join(guest(42))
    assert stage.revoke(42) == []  # cut, left or withdrawn: a new invitation is needed
    refused(lambda: stage.check_can_join(guest(42)), 403, "not_invited")


def test_layout_order_and_what_viewers_see() -> None:
    stage = Stage()
    stage.join("a", expert("alice"), True, True)
    stage.join("b", expert("bob"), True, True)
    stage.join("s", Identity("alice:screen", "screen"), True, False)
    stage.set_on_air("b", True)
    stage.set_layout(Layout.SLIDES)
    assert stage.plan().members == ("s", "a", "b")
    stage.set_layout(Layout.SPEAKER, speaker="b")
    assert stage.plan().members[0] == "b"
    stage.set_on_air("b", False)
    public = stage.snapshot(staff=False)
    assert {m["id"] for m in public["members"]} == {"a", "s"}  # type: ignore[union-attr,index]
    assert "hands" not in public and "grants" not in public
    refused(lambda: stage.set_on_air("nobody", True), 404, "unknown_member")


def test_rectangles_stay_inside_the_programme() -> None:
    for layout in Layout:
        for count in range(1, MAX_ON_AIR + 1):
            rects = rectangles(layout, count)
            assert len(rects) == count
            for r in rects:
                assert r.x >= 0 and r.y >= 0 and r.x + r.w <= 1280 and r.y + r.h <= 720
    box = fit(1920, 1080, Rect(960, 270, 320, 180))
    assert (box.w, box.h) == (320, 180) and box.w % 2 == 0


def test_the_stage_says_how_large_each_member_is_drawn_so_publishers_shown_small_send_less() -> None:
    stage = Stage()
    stage.join("a", expert("alice"), True, True)
    stage.join("b", expert("bob"), True, True)
    stage.join("c", expert("carol"), True, True)

    def tiles(staff: bool = True) -> dict[str, object]:
        return {m["id"]: m["tile"] for m in stage.snapshot(staff=staff)["members"]}  # type: ignore[index,union-attr]

    assert tiles() == {"a": None, "b": None, "c": None}  # Alice forwarded at her own size, the others backstage
    stage.set_on_air("b", True)
    stage.set_layout(Layout.GRID)
    assert tiles() == {"a": [640, 360], "b": [640, 360], "c": None}
    assert tiles(staff=False) == {"a": [640, 360], "b": [640, 360]}  # the publishers read it as viewers
    stage.set_on_air("c", True)
    stage.set_layout(Layout.SPEAKER, speaker="c")
    assert tiles() == {"a": [320, 180], "b": [320, 180], "c": [960, 720]}
    stage.set_on_air("b", False)
    stage.set_on_air("c", False)
    assert tiles() == {"a": None, "b": None, "c": None}  # forwarded again: full size
