"""Backstage notes (moderator ↔ expert): stored, published after commit on the staff channel only."""

from __future__ import annotations

import httpx
import pytest

from tests.server.test_questions import Party
from tests.support import LiveServer, WsClient


@pytest.fixture
async def party(client: httpx.AsyncClient) -> Party:
    return await Party.create(client)


def ws(server: LiveServer, party: Party, who: dict[str, str] | None = None) -> WsClient:
    headers = {"Authorization": who["Authorization"]} if who else {}
    return WsClient(f"{server.ws_url}/api/v1/events/{party.slug}/ws", headers)


async def test_a_moderator_note_reaches_the_expert_live_and_never_a_viewer(server: LiveServer, party: Party) -> None:
    viewer = await party.viewer()
    expert = await ws(server, party, party.expert).connect()
    watcher = await ws(server, party, viewer).connect()
    await expert.wait(lambda f: f["type"] == "snapshot")
    await watcher.wait(lambda f: f["type"] == "snapshot")
    sent = await party.client.post(
        f"{party.base}/notes", json={"text": "还剩 10 分钟，<b>请</b>加快"}, headers=party.mod
    )
    assert sent.status_code == 201, sent.text
    note = sent.json()
    assert note["text"] == "还剩 10 分钟，<b>请</b>加快" and note["author"]["role"] == "moderator"
    frame = await expert.wait(lambda f: f["type"] == "note")
    assert frame["data"] == note and isinstance(frame["id"], int)
    # Something public afterwards proves the viewer's channel moved on without the note.
    qid = (await party.ask(viewer, "地铁保护区内的监测预警值怎么定？")).json()["id"]
    await party.act(party.mod, qid, "approve")
    await watcher.wait(lambda f: f["type"] == "question.approved")
    assert not watcher.of_type("note") and "10 分钟" not in str(watcher.frames)
    await expert.close()
    await watcher.close()


async def test_notes_are_in_the_staff_snapshot_and_replayed_after_a_drop(server: LiveServer, party: Party) -> None:
    await party.client.post(f"{party.base}/notes", json={"text": "第一条"}, headers=party.mod)
    expert = await ws(server, party, party.expert).connect()
    snap = await expert.wait(lambda f: f["type"] == "snapshot")
    assert [n["text"] for n in snap["data"]["notes"]] == ["第一条"]
    last = expert.last_id
    await expert.close()
    await party.client.post(f"{party.base}/notes", json={"text": "第二条"}, headers=party.mod)
    reply = await party.client.post(f"{party.base}/notes", json={"text": "收到"}, headers=party.expert)
    assert reply.status_code == 201 and reply.json()["author"]["role"] == "expert"
    back = await ws(server, party, party.expert).connect(last_id=last)
    await back.wait(lambda f: f["type"] == "note" and f["data"]["text"] == "收到")
    assert [f["data"]["text"] for f in back.of_type("note")] == ["第二条", "收到"]
    listed = await party.client.get(f"{party.base}/notes", headers=party.mod)
    assert [n["text"] for n in listed.json()["notes"]] == ["第一条", "第二条", "收到"]
    viewer_ws = await ws(server, party).connect()
    public = await viewer_ws.wait(lambda f: f["type"] == "snapshot")
    assert "notes" not in public["data"]
    await back.close()
    await viewer_ws.close()


async def test_only_staff_may_read_or_write_notes(party: Party) -> None:
    viewer = await party.viewer()
    assert (await party.client.post(f"{party.base}/notes", json={"text": "hi"}, headers=viewer)).status_code == 403
    assert (await party.client.get(f"{party.base}/notes", headers=viewer)).status_code == 403
    party.client.cookies.clear()  # joining set the viewer's cookie on this client
    assert (await party.client.get(f"{party.base}/notes")).status_code == 401
    empty = await party.client.post(f"{party.base}/notes", json={"text": "   "}, headers=party.mod)
    assert empty.status_code == 422
    long = await party.client.post(f"{party.base}/notes", json={"text": "长" * 1001}, headers=party.mod)
    assert long.status_code == 422
