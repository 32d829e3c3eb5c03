"""The WebSocket contract: snapshot, live frames per role, replay from last_id, resync, notices, votes."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import httpx
import pytest

from tests.server.test_questions import Party
from tests.support import LiveServer, WsClient, wait_for


@pytest.fixture
async def party(client: httpx.AsyncClient) -> Party:
    return await Party.create(client)


def ws_for(server: LiveServer, party: Party, who: dict[str, str] | None = None) -> WsClient:
    headers = {"Authorization": who["Authorization"]} if who else {}
    return WsClient(f"{server.ws_url}/api/v1/events/{party.slug}/ws", headers)


async def test_viewer_snapshot_then_live_approval_without_pending_content(server: LiveServer, party: Party) -> None:
    asker = await party.viewer()
    watcher = await ws_for(server, party).connect()
    moderator = await ws_for(server, party, party.mod).connect()
    snap = await watcher.wait(lambda f: f["type"] == "snapshot")
    assert snap["data"]["questions"] == [] and snap["data"]["stream"]["state"] == "idle"
    await moderator.wait(lambda f: f["type"] == "snapshot")
    qid = (await party.ask(asker, "基坑开挖时如何保护邻近地铁隧道？")).json()["id"]
    submitted = await moderator.wait(lambda f: f["type"] == "question.submitted")
    assert submitted["data"]["id"] == qid and submitted["data"]["asker"]["name"] == "王工"
    await party.act(party.mod, qid, "approve")
    approved = await watcher.wait(lambda f: f["type"] == "question.approved")
    assert approved["data"]["text"] == "基坑开挖时如何保护邻近地铁隧道？" and approved["data"]["status"] == "approved"
    assert not watcher.of_type("question.submitted")  # a pending question never reaches viewers
    ids = [f["id"] for f in watcher.numbered()]
    assert ids == list(range(snap["id"] + 1, snap["id"] + 1 + len(ids)))
    await watcher.close()
    await moderator.close()


async def test_asker_learns_the_fate_of_their_question_at_once(server: LiveServer, party: Party) -> None:
    asker = await party.viewer()
    mine = await ws_for(server, party, asker).connect()
    await mine.wait(lambda f: f["type"] == "snapshot")
    qid = (await party.ask(asker, "这个问题会被拒绝吗？测试一下")).json()["id"]
    await mine.wait(lambda f: f["type"] == "notice" and f["data"]["type"] == "question.submitted")
    await party.act(party.mod, qid, "reject", reason="unclear", reason_text="请补充项目类型")
    notice = await mine.wait(lambda f: f["type"] == "notice" and f["data"]["type"] == "question.rejected")
    assert notice["data"]["question"]["reason_code"] == "unclear"
    assert notice["data"]["question"]["reason_text"] == "请补充项目类型"
    assert not mine.of_type("question.rejected")  # the public channel never carried it: it was never public
    await mine.close()


async def test_anonymous_askers_stay_anonymous_to_viewers(server: LiveServer, party: Party) -> None:
    asker = await party.viewer("匿名者")
    watcher = await ws_for(server, party).connect()
    await watcher.wait(lambda f: f["type"] == "snapshot")
    qid = (await party.ask(asker, "业主可以拒绝预看房结果吗？", anonymous=True)).json()["id"]
    await party.act(party.mod, qid, "approve")
    approved = await watcher.wait(lambda f: f["type"] == "question.approved")
    assert approved["data"]["asker"] is None and approved["data"]["anonymous"] is True
    assert "匿名者" not in str(watcher.frames)
    staff = (await party.listing(party.mod))["questions"][0]
    assert staff["asker"]["name"] == "匿名者"  # moderators still know who asked
    await watcher.close()


async def test_reconnect_with_last_id_replays_the_gap_exactly(server: LiveServer, party: Party) -> None:
    viewers = [await party.viewer(f"观众{i}") for i in range(4)]
    watcher = await ws_for(server, party).connect()
    await watcher.wait(lambda f: f["type"] == "snapshot")
    first = (await party.ask(viewers[0], "第一问：地连墙渗漏如何处理")).json()["id"]
    await party.act(party.mod, first, "approve")
    await watcher.wait(lambda f: f["type"] == "question.approved")
    last_seen = watcher.last_id
    await watcher.close()
    missed = []
    for i, text in enumerate(["第二问：钢支撑轴力预警", "第三问：坑底隆起监测"], start=1):
        qid = (await party.ask(viewers[i], text)).json()["id"]
        await party.act(party.mod, qid, "approve")
        missed.append(qid)
    await party.act(party.expert, first, "answering")
    back = await ws_for(server, party).connect(last_id=last_seen)
    await back.wait(lambda f: f["type"] == "question.answering", message="replayed answering")
    qid = (await party.ask(viewers[3], "第四问：实时到达的问题")).json()["id"]
    await party.act(party.mod, qid, "approve")
    await back.wait(lambda f: f["type"] == "question.approved" and f["data"]["id"] == qid)
    ids = [f["id"] for f in back.numbered()]
    assert ids == list(range(last_seen + 1, last_seen + 1 + len(ids))), ids  # no gap, no duplicate
    approved = [f["data"]["id"] for f in back.of_type("question.approved")]
    assert approved == [*missed, qid]
    assert not back.of_type("snapshot")
    await back.close()


async def test_unknown_or_future_last_id_gets_resync_then_snapshot(server: LiveServer, party: Party) -> None:
    client = await ws_for(server, party).connect(last_id=1)
    await client.wait(lambda f: f["type"] == "resync_required")
    await client.send({"type": "hello", "last_id": None})
    await client.wait(lambda f: f["type"] == "snapshot")
    await client.close()


async def test_votes_are_coalesced(server: LiveServer, party: Party) -> None:
    asker = await party.viewer()
    qid = (await party.ask(asker, "投票风暴测试：哪个问题最受关注")).json()["id"]
    await party.act(party.mod, qid, "approve")
    watcher = await ws_for(server, party).connect()
    await watcher.wait(lambda f: f["type"] == "snapshot")
    voters = [await party.viewer(f"v{i}") for i in range(12)]
    await asyncio.gather(*(party.client.put(f"{party.base}/questions/{qid}/vote", headers=v) for v in voters))
    final = await watcher.wait(lambda f: f["type"] == "question.votes" and f["data"]["counts"].get(str(qid)) == 12)
    assert final
    assert len(watcher.of_type("question.votes")) <= 4  # 12 votes in well under a second: a few frames


async def test_held_votes_frame_goes_out_with_the_next_approval_in_order(server: LiveServer, party: Party) -> None:
    # The hub holds a votes frame back (hub.VOTES_HOLD_S) to share a write with the channel's next frame:
    # every frame still arrives once, numbered without a gap, the votes before the approval that followed it.
    asker = await party.viewer()
    first = (await party.ask(asker, "先批准的问题，随后有人投票")).json()["id"]
    second = (await party.ask(await party.viewer("另一位提问者"), "投票之后马上批准的问题")).json()["id"]
    await party.act(party.mod, first, "approve")
    watcher = await ws_for(server, party).connect()
    await watcher.wait(lambda f: f["type"] == "snapshot")
    voter = await party.viewer("投票者")
    await party.client.put(f"{party.base}/questions/{first}/vote", headers=voter)
    await watcher.wait(lambda f: f["type"] == "question.votes", timeout=5)  # alone: released by its deadline
    await party.client.put(f"{party.base}/questions/{first}/vote", headers=await party.viewer("第二位"))
    await party.act(party.mod, second, "approve")
    await watcher.wait(lambda f: f["type"] == "question.approved" and f["data"]["id"] == second)
    await watcher.wait(lambda f: f["type"] == "question.votes" and f["data"]["counts"].get(str(first)) == 2)
    numbered = [f for f in watcher.frames if f["type"] not in ("snapshot", "heartbeat", "presence") and "id" in f]
    ids = [f["id"] for f in numbered]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    kinds = [f["type"] for f in numbered]
    assert kinds.index("question.approved") > kinds.index("question.votes")


async def test_bad_websocket_input(server: LiveServer, party: Party) -> None:
    import websockets

    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{server.ws_url}/api/v1/events/no-such-event/ws")
    assert refused.value.response.status_code == 404
    with pytest.raises(websockets.InvalidStatus) as bad_token:
        await websockets.connect(f"{server.ws_url}/api/v1/events/{party.slug}/ws?token=forged")
    assert bad_token.value.response.status_code == 401
    async with websockets.connect(f"{server.ws_url}/api/v1/events/{party.slug}/ws") as ws:
        await ws.send("not json")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd.code == 1008
    async with websockets.connect(f"{server.ws_url}/api/v1/events/{party.slug}/ws") as ws:
        await ws.send('{"type": "hello", "last_id": "abc"}')
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
    # The server still serves others.
    ok = await ws_for(server, party).connect()
    await ok.wait(lambda f: f["type"] == "snapshot")
    await ok.close()


async def test_accepted_questions_survive_a_restart_and_clients_resync(server: LiveServer, party: Party) -> Any:
    from tests.support import live_server

    async with live_server(database_url=server.settings.database_url, media_dir=server.settings.media_dir) as first:
        async with httpx.AsyncClient(base_url=first.base_url) as c:
            p = await Party.create(c)
            asker = await p.viewer()
            qid = (await p.ask(asker, "重启后问题还在吗？")).json()["id"]
            await p.act(p.mod, qid, "approve")
            watcher = await WsClient(f"{first.ws_url}/api/v1/events/{p.slug}/ws").connect()
            await watcher.wait(lambda f: f["type"] == "snapshot")
            last = watcher.last_id
            await watcher.close()
        slug, mod = p.slug, p.mod
    async with live_server(database_url=server.settings.database_url, media_dir=server.settings.media_dir) as second:
        async with httpx.AsyncClient(base_url=second.base_url) as c:
            p = Party(c, slug)
            assert [q["id"] for q in (await p.listing())["questions"]] == [qid]
            staff = (await p.listing(mod))["questions"]
            assert staff[0]["status"] == "approved"
        back = await WsClient(f"{second.ws_url}/api/v1/events/{slug}/ws").connect(last_id=last)
        await back.wait(lambda f: f["type"] == "resync_required")
        await back.send({"type": "hello", "last_id": None})
        snap = await back.wait(lambda f: f["type"] == "snapshot")
        assert [q["id"] for q in snap["data"]["questions"]] == [qid]
        await back.close()


async def test_a_slow_client_is_evicted_and_never_stalls_the_others(server: LiveServer, party: Party) -> None:
    import websockets

    url = f"{server.ws_url}/api/v1/events/{party.slug}/ws"
    fast = await ws_for(server, party).connect()
    await fast.wait(lambda f: f["type"] == "snapshot")
    # max_queue=1: the client library stops reading after one message, so TCP backs up like a stuck phone.
    slow = await websockets.connect(url, max_queue=1, max_size=2**24, compression=None)
    await slow.send('{"type": "hello", "last_id": null}')
    assert json.loads(await slow.recv())["type"] == "snapshot"
    ctx = server.app.state.ctx
    channel = f"public:{await _event_id(server, party.slug)}"
    filler = '{"id": 0, "text": "' + secrets.token_hex(8000) + '"}'  # 16 KB, incompressible enough
    total = 1500
    for n in range(total):
        await ctx.bus.publish(channel, "question.updated", filler)
        if n % 20 == 0:
            await asyncio.sleep(0.01)  # a busy event's pace, not one burst: a reading client keeps up
    await fast.wait(
        lambda f: len(fast.of_type("question.updated")) >= total or None,
        timeout=60,
        message="fast client receives everything",
    )
    ids = [f["id"] for f in fast.of_type("question.updated")]
    assert ids == list(range(ids[0], ids[0] + total))
    metrics = (await party.client.get("/metrics")).text
    assert "sitecast_ws_evictions_total 0.0" not in metrics
    received = 0
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(slow.recv(), 20)
            received += 1
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008
    assert received < total + 1
    await fast.close()


async def _event_id(server: LiveServer, slug: str) -> int:
    from server.services.events import get_event

    async with server.app.state.ctx.session() as session:
        return (await get_event(session, slug)).id


async def test_votes_slow_to_one_frame_a_second_for_a_large_audience(
    server: LiveServer, party: Party, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.questions import votes as votes_module

    assert votes_module.flush_interval(50) == 0.25 and votes_module.flush_interval(5000) == 1.0
    monkeypatch.setattr(votes_module, "LARGE_AUDIENCE", 0)  # this one watcher stands in for thousands
    asker = await party.viewer()
    qid = (await party.ask(asker, "大型活动的投票更新频率是多少")).json()["id"]
    await party.act(party.mod, qid, "approve")
    watcher = await ws_for(server, party).connect()
    await watcher.wait(lambda f: f["type"] == "snapshot")
    event_id = await _event_id(server, party.slug)
    await wait_for(lambda: server.app.state.ctx.hub.viewers(event_id) >= 1, 10, message="viewer counted")
    voters = [await party.viewer(f"大众{i}") for i in range(10)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    for v in voters:  # ten votes spread over ~2 s
        await party.client.put(f"{party.base}/questions/{qid}/vote", headers=v)
        await asyncio.sleep(0.2)
    await watcher.wait(lambda f: f["type"] == "question.votes" and f["data"]["counts"].get(str(qid)) == 10)
    elapsed = loop.time() - started
    assert len(watcher.of_type("question.votes")) <= int(elapsed) + 2  # ~1 a second, not 4
    await watcher.close()


async def test_each_new_viewer_snapshot_reflects_every_public_change(server: LiveServer, party: Party) -> None:
    # Snapshots are shared between viewers connecting at the same position; any public change must show.
    async def snapshot_questions() -> dict[int, dict[str, Any]]:
        viewer = await ws_for(server, party).connect()
        snap = await viewer.wait(lambda f: f["type"] == "snapshot")
        await viewer.close()
        return {q["id"]: q for q in snap["data"]["questions"]}

    asker, voter = await party.viewer("提问人"), await party.viewer("投票人")
    qid = (await party.ask(asker, "深基坑变形预警值怎么定？")).json()["id"]
    assert await snapshot_questions() == {}
    assert await snapshot_questions() == {}  # served again at the same position
    await party.act(party.mod, qid, "approve")
    assert list(await snapshot_questions()) == [qid]
    await party.client.put(f"{party.base}/questions/{qid}/vote", headers=voter)

    async def with_the_vote() -> dict[int, dict[str, Any]] | None:
        # The count reaches the public channel with the coalesced votes frame, a moment after the PUT.
        questions = await snapshot_questions()
        return questions if questions.get(qid, {}).get("votes") == 1 else None

    await wait_for(with_the_vote, 10, interval=0.1, message="a new viewer's snapshot with the vote")
    await party.act(party.mod, qid, "reject", reason="off_topic")
    assert await snapshot_questions() == {}


async def test_anonymous_viewers_connecting_together_share_a_snapshot_and_miss_nothing_after_it(
    server: LiveServer, party: Party
) -> None:
    # Anonymous viewers connecting at one channel position get one shared public snapshot (built once),
    # each with its own live fields; every numbered frame after it arrives exactly once, in order.
    asker = await party.viewer("提问人")
    first = (await party.ask(asker, "支护桩嵌固深度怎么算？")).json()["id"]
    await party.act(party.mod, first, "approve")
    viewers = await asyncio.gather(*(ws_for(server, party).connect() for _ in range(12)))
    snaps = await asyncio.gather(*(v.wait(lambda f: f["type"] == "snapshot") for v in viewers))
    for snap in snaps:
        data = snap["data"]
        assert [q["id"] for q in data["questions"]] == [first]
        assert data["mine"] == [] and data["voted"] == [] and data["role"] == "viewer"
        assert data["event"]["state"] == "scheduled" and data["stream"]["state"] == "idle"
        assert {"polls", "poll_answers", "stage", "captions", "viewers"} <= set(data)
        assert isinstance(data["viewers"], int)
    second = (await party.ask(await party.viewer("另一位"), "降水井间距如何确定？")).json()["id"]
    await party.act(party.mod, second, "approve")
    for viewer, snap in zip(viewers, snaps, strict=True):
        await viewer.wait(lambda f: f["type"] == "question.approved" and f["data"]["id"] == second)
        ids = [f["id"] for f in viewer.numbered()]
        assert ids == list(range(snap["id"] + 1, snap["id"] + 1 + len(ids)))
        await viewer.close()


async def test_a_new_anonymous_viewer_sees_the_event_state_at_once(
    server: LiveServer, party: Party, admin: Any
) -> None:
    # The event row an anonymous connect uses is cached per process; what its snapshot shows is not.
    before = await ws_for(server, party).connect()
    assert (await before.wait(lambda f: f["type"] == "snapshot"))["data"]["event"]["state"] == "scheduled"
    moved = await party.client.post(f"{party.base}/state", json={"state": "live"}, headers=admin)
    assert moved.status_code == 200, moved.text
    await before.wait(lambda f: f["type"] == "event.state")
    after = await ws_for(server, party).connect()
    assert (await after.wait(lambda f: f["type"] == "snapshot"))["data"]["event"]["state"] == "live"
    await before.close()
    await after.close()
