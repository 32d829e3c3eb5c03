"""The stage through the real app: two experts by their own invite links, staff control (and only staff),
the `stage` frame, and a viewer brought on air — hand raised on their own question, invited, previewed
backstage over WHEP, put on air (the question is "answering now"), then leaving; plus bad input."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ADMIN
from tests.media.conftest import requires_ffmpeg
from tests.media.publishers import AiortcPublisher, AiortcViewer
from tests.server.test_questions import Party
from tests.support import LiveServer, WsClient, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.media, requires_ffmpeg]


def token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def member_id(publisher: AiortcPublisher) -> str:
    assert publisher.location is not None
    return publisher.location.rsplit("/", 1)[1]


async def test_experts_and_a_viewer_on_air(server: LiveServer, client: httpx.AsyncClient) -> None:
    party = await Party.create(client)
    stage_url = f"{party.base}/stage"
    second = await client.post(f"{party.base}/invites", json={"role": "expert"}, headers=ADMIN)
    other_expert = {"Authorization": f"Bearer {second.json()['token']}"}
    viewer = await party.viewer("李工")
    staff_ws = await WsClient(f"{server.ws_url}/api/v1/events/{party.slug}/ws?as=staff", party.mod).connect()
    snap = await staff_ws.wait(lambda f: f["type"] == "snapshot")
    assert snap["data"]["stage"]["members"] == []

    alice = AiortcPublisher(server.base_url, party.slug, token(party.expert), tone=500)
    bob = AiortcPublisher(server.base_url, party.slug, token(other_expert), tone=1200)
    guest = AiortcPublisher(server.base_url, party.slug, token(viewer), tone=800, video=False)
    peek = None
    try:
        assert (await alice.start()).status_code == 201
        assert (await bob.start()).status_code == 201
        frame = await staff_ws.wait(lambda f: f["type"] == "stage" and len(f["data"]["members"]) == 2)
        on_air = {m["id"]: m["on_air"] for m in frame["data"]["members"]}
        assert on_air == {member_id(alice): True, member_id(bob): False}

        # Only staff control the stage.
        bob_path = f"{stage_url}/members/{member_id(bob)}"
        refused = await client.patch(bob_path, json={"on_air": True}, headers=viewer)
        assert refused.status_code == 403 and refused.json()["error"]["message"]
        put = await client.patch(bob_path, json={"on_air": True}, headers=party.mod)
        assert put.status_code == 200, put.text
        assert {m["id"] for m in put.json()["members"] if m["on_air"]} == {member_id(alice), member_id(bob)}
        layout = await client.patch(stage_url, json={"layout": "grid"}, headers=party.expert)
        assert layout.status_code == 200 and layout.json()["layout"] == "grid"
        # The host decides: Alice (the first expert on the stage) or a moderator, not the second expert, who
        # may only mute themselves or leave the air.
        not_host = await client.patch(stage_url, json={"layout": "speaker"}, headers=other_expert)
        assert not_host.status_code == 403 and not_host.json()["error"]["code"] == "not_host"
        alice_path = f"{stage_url}/members/{member_id(alice)}"
        assert (await client.patch(alice_path, json={"muted": True}, headers=other_expert)).status_code == 403
        own = await client.patch(bob_path, json={"muted": True}, headers=other_expert)
        assert own.status_code == 200, own.text
        assert (await client.patch(bob_path, json={"muted": False}, headers=other_expert)).status_code == 200
        cut_alice = await client.delete(alice_path, headers=other_expert)
        assert cut_alice.status_code == 403 and cut_alice.json()["error"]["code"] == "not_host"
        media = server.app.state.ctx.media
        await wait_for(lambda: media.compositor(party.slug) is not None, 10, message="composing")

        # A viewer cannot publish without an invitation.
        asked = await party.ask(viewer, "基坑旁的地铁隧道变形如何监测？")
        qid = asked.json()["id"]
        assert (await party.act(party.mod, qid, "approve")).status_code == 200
        refused = await guest.start()
        assert refused.status_code == 403 and "invite" in refused.json()["error"]["message"]
        await guest.close()
        guest = AiortcPublisher(server.base_url, party.slug, token(viewer), tone=800, video=False)

        # Hand raised on their own question; staff see it with the question.
        not_theirs = await client.post(f"{stage_url}/hands", json={"question_id": qid}, headers=party.mod)
        assert not_theirs.status_code == 403
        raised = await client.post(f"{stage_url}/hands", json={"question_id": qid}, headers=viewer)
        assert raised.status_code == 201, raised.text
        assert raised.json()["mine"]["hands"] == [qid]
        seen = (await client.get(stage_url, headers=party.mod)).json()
        assert seen["hands"][0]["text"] == "基坑旁的地铁隧道变形如何监测？" and seen["hands"][0]["name"] == "李工"
        assert "hands" not in (await client.get(stage_url, headers=viewer)).json()

        viewer_ws = await WsClient(f"{server.ws_url}/api/v1/events/{party.slug}/ws", viewer).connect()
        await viewer_ws.wait(lambda f: f["type"] == "snapshot")
        invited = await client.post(f"{stage_url}/invitations", json={"question_id": qid}, headers=party.mod)
        assert invited.status_code == 201, invited.text
        assert invited.json()["hands"] == []
        # The asker's page hears of the invitation at once (the public frame never shows invitations).
        told = await viewer_ws.wait(lambda f: f["type"] == "notice" and f["data"]["type"] == "stage.invited")
        assert (told["data"]["question_id"], told["data"]["camera"]) == (qid, False)
        await viewer_ws.close()
        mine = (await client.get(stage_url, headers=viewer)).json()["mine"]
        assert (mine["invited"], mine["question_id"], mine["member"], mine["remaining"]) == (True, qid, None, None)
        with_camera = AiortcPublisher(server.base_url, party.slug, token(viewer))
        refused = await with_camera.start()  # invited with the microphone only
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "camera_not_allowed"
        await with_camera.close()
        assert (await guest.start()).status_code == 201
        stage = (await client.get(stage_url, headers=party.mod)).json()
        member = next(m for m in stage["members"] if m["kind"] == "guest")
        assert (member["on_air"], member["name"], member["question_id"]) == (False, "李工", qid)  # backstage

        # The moderator previews the guest's microphone backstage, then puts them on air.
        peek = AiortcViewer(server.base_url, party.slug, token(party.mod), member=member["id"])
        assert (await peek.start()).status_code == 201
        await wait_for(lambda: peek.frames["audio"] > 5, 20, message="the guest's voice backstage")
        put = await client.patch(f"{stage_url}/members/{member['id']}", json={"on_air": True}, headers=party.mod)
        assert put.status_code == 200, put.text
        listing = await party.listing(party.mod)
        answering = [q for q in listing["questions"] if q["id"] == qid]
        assert answering and answering[0]["status"] == "answering"
        # The guest's page shows them on air and the time they have left.
        seen = (await client.get(stage_url, headers=viewer)).json()
        assert seen["mine"]["on_air"] is True and seen["mine"]["member"] == member["id"]
        assert 0 < seen["mine"]["remaining"] <= seen["guest_seconds"]

        # The guest leaves by themselves; they would need a new invitation to come back.
        left = await client.delete(f"{stage_url}/members/{member['id']}", headers=viewer)
        assert left.status_code == 204
        await staff_ws.wait(lambda f: f["type"] == "stage" and all(m["kind"] != "guest" for m in f["data"]["members"]))
        again = AiortcPublisher(server.base_url, party.slug, token(viewer), video=False)
        assert (await again.start()).status_code == 403
        await again.close()
    finally:
        for client_ in (peek, guest, bob, alice):
            if client_ is not None:
                await client_.close()
    await staff_ws.close()


async def test_stage_bad_input(client: httpx.AsyncClient) -> None:
    party = await Party.create(client)
    stage_url = f"{party.base}/stage"
    viewer = await party.viewer()

    def error(response: httpx.Response, status: int, code: str | None = None) -> None:
        assert response.status_code == status, response.text
        body = response.json()["error"]
        assert body["message"] and (code is None or body["code"] == code)

    error(await client.patch(stage_url, json={"layout": "circle"}, headers=party.mod), 422)
    error(await client.patch(stage_url, json={"layout": "grid"}, headers=viewer), 403)
    async with httpx.AsyncClient(base_url=client.base_url) as stranger:  # no event cookie
        error(await stranger.patch(stage_url, json={"layout": "grid"}), 401)
    error(await client.patch(f"{stage_url}/members/nobody", json={"on_air": True}, headers=party.mod), 404)
    error(await client.patch(f"{stage_url}/members/nobody", json={"on_air": "maybe"}, headers=party.mod), 422)
    error(await client.delete(f"{stage_url}/members/nobody", headers=party.mod), 404)
    error(await client.post(f"{stage_url}/hands", json={"question_id": 999999}, headers=viewer), 404)
    error(await client.post(f"{stage_url}/hands", json={"question_id": "x"}, headers=viewer), 422)
    error(await client.delete(f"{stage_url}/hands/abc", headers=viewer), 404)
    error(await client.delete(f"{stage_url}/invitations/12345", headers=party.mod), 404)
    pending = (await party.ask(viewer, "围护结构的水平位移报警值如何确定？")).json()["id"]
    error(await client.post(f"{stage_url}/hands", json={"question_id": pending}, headers=viewer), 409, "not_in_queue")
    error(await client.post(f"{stage_url}/invitations", json={"question_id": pending}, headers=viewer), 403)
    assert (await client.get(f"{party.base}/stage")).json()["members"] == []
