"""Frames written once and straight to each socket (server/realtime/wire.py), and the ASGI fallback.

These pin what the direct path relies on in uvicorn's websockets-sansio protocol: if an upgrade renames
an attribute, `attach` or `write` fails here rather than in front of 5,000 viewers.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import websockets

from server.realtime import hub as hub_module
from server.realtime.hub import Connection
from server.realtime.wire import DirectWriter, encode_text
from tests.server.test_questions import Party
from tests.server.test_realtime import _event_id
from tests.support import LiveServer, WsClient, live_server, wait_for


def _connections(server: LiveServer) -> list[Connection]:
    hub = server.app.state.ctx.hub
    return [conn for conns in hub._by_channel.values() for conn in conns]


async def _viewers(server: LiveServer, slug: str, count: int) -> list[WsClient]:
    clients = [await WsClient(f"{server.ws_url}/api/v1/events/{slug}/ws").connect() for _ in range(count)]
    for c in clients:
        await c.wait(lambda f: f["type"] == "snapshot")
    return clients


def test_encoded_frames_are_rfc6455_server_text_frames() -> None:
    short, medium, long = encode_text("é"), encode_text("x" * 200), encode_text("基" * 30000)
    assert short == b"\x81\x02\xc3\xa9"  # FIN + text, unmasked, 7-bit length
    assert medium[:4] == b"\x81\x7e\x00\xc8"  # 16-bit length
    assert long[:2] == b"\x81\x7f" and int.from_bytes(long[2:10], "big") == 90000  # 64-bit length


async def test_viewers_get_frames_through_the_direct_path_intact(server: LiveServer, client: httpx.AsyncClient) -> None:
    party = await Party.create(client)
    asker = await party.viewer()
    watchers = await _viewers(server, party.slug, 3)
    event_id = await _event_id(server, party.slug)
    mine = [c for c in _connections(server) if c.channel == f"public:{event_id}"]
    assert mine and all(c.writer is not None for c in mine), "uvicorn's sans-I/O protocol was not recognised"
    # The writer itself puts bytes on the wire (not only the ASGI fallback): an unnumbered frame written
    # through it alone reaches that viewer.
    first = next(c for c in mine if c.participant_id is None and c.writer is not None)
    assert first.writer is not None and first.writer.write(encode_text('{"type":"pong","data":"direct"}'))
    await _wait_any(watchers, lambda f: f["type"] == "pong" and f.get("data") == "direct")
    text = '盾构穿越既有线路时沉降如何控制？🚇 <b>&amp;</b> "quoted"'
    qid = (await party.ask(asker, text)).json()["id"]
    await party.act(party.mod, qid, "approve")
    for w in watchers:
        frame = await w.wait(lambda f: f["type"] == "question.approved")
        assert frame["data"]["text"] == text
    await asyncio.gather(*(w.close() for w in watchers))


async def test_a_client_with_deflate_takes_the_asgi_path(database_url: str, tmp_path: Any) -> None:
    async with (
        live_server(deflate=True, database_url=database_url, media_dir=tmp_path) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=20) as client,
    ):
        party = await Party.create(client)
        asker = await party.viewer()
        url = f"{server.ws_url}/api/v1/events/{party.slug}/ws"
        compressed = await websockets.connect(url, compression="deflate")
        plain = await websockets.connect(url, compression=None)
        for ws in (compressed, plain):
            await ws.send('{"type":"hello","last_id":null}')
            await ws.recv()
        assert compressed.protocol.extensions and not plain.protocol.extensions
        # The deflate connection gets no direct writer (raw frames would go out uncompressed); the plain one does.
        assert sorted(c.writer is not None for c in _connections(server)) == [False, True]
        qid = (await party.ask(asker, "permessage-deflate 客户端也收到")).json()["id"]
        await party.act(party.mod, qid, "approve")
        for ws in (compressed, plain):
            frame = await asyncio.wait_for(_next_of(ws, "question.approved"), 10)
            assert frame["data"]["text"] == "permessage-deflate 客户端也收到"
            await ws.close()


async def _wait_any(clients: list[WsClient], predicate: Any) -> None:
    async def anyone() -> bool:
        return any(predicate(f) for w in clients for f in w.frames)

    await wait_for(anyone, 10, message="the directly written frame")


async def _next_of(ws: Any, frame_type: str) -> dict[str, Any]:
    import json

    while True:
        frame = json.loads(await ws.recv())
        if frame["type"] == frame_type:
            return frame


async def test_a_fan_out_in_slices_keeps_order_while_viewers_come_and_go(
    server: LiveServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Slices of 2 sockets: the loop runs between slices, so joins, leaves and new frames interleave.
    monkeypatch.setattr(hub_module, "FANOUT_SLICE", 2)
    party = await Party.create(client)
    steady = await _viewers(server, party.slug, 6)
    topics = ["基坑监测频率", "地铁保护区", "管线迁改", "降水井", "支护结构", "盾构沉降", "桩基检测", "验收程序",
              "质量通病", "分户验收", "渗漏处理", "噪声投诉"]  # fmt: skip
    qids = [
        (await party.ask(await party.viewer(f"观众{n}"), f"请问{t}怎么办？")).json()["id"] for n, t in enumerate(topics)
    ]
    churn: list[WsClient] = []

    async def come_and_go() -> None:
        for _ in range(6):
            churn.append(await WsClient(f"{server.ws_url}/api/v1/events/{party.slug}/ws").connect())
            if len(churn) > 2:
                await churn.pop(0).close()

    await asyncio.gather(come_and_go(), *(party.act(party.mod, q, "approve") for q in qids))
    for w in [*steady, *churn]:
        # What a viewer knows = its snapshot plus the live frames after it: every approval, exactly once.
        await w.wait(lambda f, w=w: _seen(w) >= set(qids) or None, message="every approval")
    for w in steady:
        ids = [f["id"] for f in w.numbered()]
        assert ids == list(range(ids[0], ids[0] + len(ids))), "numbered frames arrive once each, in order"
        assert sorted(f["data"]["id"] for f in w.of_type("question.approved")) == sorted(qids)
    await asyncio.gather(*(w.close() for w in [*steady, *churn]))


def _seen(w: WsClient) -> set[int]:
    snapshot = w.of_type("snapshot")[-1]["data"]["questions"] if w.of_type("snapshot") else []
    return {q["id"] for q in snapshot} | {f["data"]["id"] for f in w.of_type("question.approved")}


def test_attach_refuses_anything_but_uvicorns_sansio_protocol() -> None:
    async def send(message: Any) -> None:
        return None

    assert DirectWriter.attach({"type": "websocket"}) is None
    assert DirectWriter.attach({"type": "websocket", "sitecast.server_send": send}) is None
