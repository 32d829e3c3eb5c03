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
from server.realtime.cohort import Cohort
from server.realtime.hub import Connection
from server.realtime.wire import BACKED_UP_BYTES, Batch, DirectWriter, encode_text
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


TOPICS = ["基坑监测频率", "地铁保护区", "管线迁改", "降水井", "支护结构", "盾构沉降", "桩基检测", "验收程序"]


async def _questions(party: Party, count: int) -> list[int]:
    return [
        (await party.ask(await party.viewer(f"提问人{n}"), f"请问{TOPICS[n]}有什么要求？")).json()["id"]
        for n in range(count)
    ]


def _cohort(server: LiveServer, channel: str) -> Any:
    return server.app.state.ctx.hub._cohorts[channel]


async def test_viewers_in_step_are_written_as_one_batch_and_a_fresh_hello_leaves_it(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    party = await Party.create(client)
    watchers = await _viewers(server, party.slug, 4)
    channel = f"public:{await _event_id(server, party.slug)}"
    qids = await _questions(party, 6)
    for qid in qids[:2]:
        await party.act(party.mod, qid, "approve")
    for w in watchers:
        await w.wait(lambda f: f["type"] == "question.approved" and f["data"]["id"] == qids[1])
    # After one direct write each, all four are in step: the next frames go as one batch.
    assert len(_cohort(server, channel)) == 4
    await party.act(party.mod, qids[2], "approve")
    # One viewer asks to be brought up to date again (as after a page freeze): it leaves the batch while it
    # replays, and nothing reaches it twice or out of order meanwhile.
    again = watchers[0]
    await again.wait(lambda f: f["type"] == "question.approved" and f["data"]["id"] == qids[2])
    await again.send({"type": "hello", "last_id": again.last_id - 1})
    for qid in qids[3:]:
        await party.act(party.mod, qid, "approve")
    for w in watchers:
        await w.wait(lambda f: f["type"] == "question.approved" and f["data"]["id"] == qids[-1])
    for w in watchers[1:]:
        ids = [f["id"] for f in w.numbered()]
        assert ids == list(range(ids[0], ids[0] + len(ids))), "in order, once each"
        assert [f["data"]["id"] for f in w.of_type("question.approved")] == qids
    replayed = [f["data"]["id"] for f in again.of_type("question.approved")]
    assert replayed == [*qids[:3], qids[2], *qids[3:]], "the replay repeats exactly what was asked for"
    await wait_for(lambda: len(_cohort(server, channel)) == 4 or None, 10, message="back in the batch")
    await asyncio.gather(*(w.close() for w in watchers))


async def test_viewers_that_say_hello_again_while_frames_flow_get_each_frame_once(
    server: LiveServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Slices of one socket, and viewers that say hello again while approvals go out: each leaves the batch,
    # replays and comes back. (Leaving half-way through a batch is pinned below, step by step.)
    monkeypatch.setattr(hub_module, "FANOUT_SLICE", 1)
    party = await Party.create(client)
    watchers = await _viewers(server, party.slug, 5)
    qids = await _questions(party, 8)

    async def rehello() -> None:
        for n in range(8):
            w = watchers[n % len(watchers)]
            if w.numbered():
                await w.send({"type": "hello", "last_id": w.last_id})
            await asyncio.sleep(0)

    await asyncio.gather(rehello(), *(party.act(party.mod, q, "approve") for q in qids))
    for w in watchers:
        await w.wait(lambda f, w=w: {f["data"]["id"] for f in w.of_type("question.approved")} >= set(qids) or None)
        ids = [f["id"] for f in w.numbered()]
        assert ids == list(range(ids[0], ids[0] + len(ids))), "in order, once each"
    await asyncio.gather(*(w.close() for w in watchers))


def test_a_batch_counts_what_it_wrote_when_a_transport_raises() -> None:
    # Stand-ins for uvicorn's protocol and the loop's transport: the point is the count and the order.
    written: list[int] = []

    class Transport:
        def __init__(self, n: int) -> None:
            self.n = n

        def write(self, data: bytes) -> None:
            if self.n == 2:
                raise RuntimeError("the handler is closed")
            written.append(self.n)

        def is_closing(self) -> bool:
            return False

        def get_write_buffer_size(self) -> int:
            return 0

    class Protocol:
        close_sent = False
        disconnected = False

        def __init__(self, n: int) -> None:
            self.transport = Transport(n)

    batch = Batch([DirectWriter(Protocol(n)) for n in range(4)])
    assert batch.ready()
    assert batch.write(b"x") == 2 and written == [0, 1]
    backed_up = Protocol(9)
    backed_up.transport.get_write_buffer_size = lambda: BACKED_UP_BYTES  # type: ignore[method-assign]
    assert not Batch([DirectWriter(Protocol(0)), DirectWriter(backed_up)]).ready()
    closing = Protocol(8)
    closing.close_sent = True
    assert not Batch([DirectWriter(closing)]).ready()


class _Wire:
    """Stand-ins for uvicorn's protocol and the loop's transport of one socket: record what is written."""

    close_sent = False
    disconnected = False

    def __init__(self, broken: bool = False) -> None:
        self.transport = self
        self.frames: list[bytes] = []
        self.broken = broken

    def write(self, data: bytes) -> None:
        if self.broken:
            raise RuntimeError("the handler is closed")
        self.frames.append(data)

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


def _member(cohort: Cohort, wire: _Wire, last_id: int) -> Connection:
    conn = Connection(ws=None, event_id=1, channel="public:1", participant_id=None, is_viewer=True)  # type: ignore[arg-type]
    conn.writer, conn.syncing, conn.last_id = DirectWriter(wire), None, last_id
    cohort.add(conn)
    cohort.join(conn)
    return conn


async def test_members_that_leave_mid_fan_out_have_the_frame_only_if_their_slice_was_written() -> None:
    cohort = Cohort()
    cohort.head = 10
    wires = [_Wire() for _ in range(4)]
    conns = [_member(cohort, w, 10) for w in wires]
    one_by_one: list[Connection] = []

    def write_one(conn: Connection) -> bool:
        one_by_one.append(conn)
        wire = conn.writer._protocol  # type: ignore[union-attr]
        wire.write(b"11")
        return True

    task = asyncio.create_task(cohort.write(11, b"11", 2, write_one))
    await asyncio.sleep(0)  # the first slice (conns 0, 1) is written; the task waits for its next turn
    assert [len(w.frames) for w in wires] == [1, 1, 0, 0]
    cohort.leave(conns[0])
    cohort.leave(conns[2])
    assert await task == 3
    assert (conns[0].last_id, conns[2].last_id) == (11, 10), "each knows exactly what it has"
    assert [len(w.frames) for w in wires] == [1, 1, 0, 1] and one_by_one == [conns[3]], "its slice went one by one"
    assert conns[0] in cohort.outside and conns[2] in cohort.outside and len(cohort) == 2

    # The channel skips an id: nobody stays in the batch, each member knows its last frame.
    assert await cohort.write(13, b"13", 2, write_one) == 0
    assert len(cohort) == 0 and conns[1].last_id == 11 and cohort.head == 13


async def test_a_transport_that_raises_in_a_batch_leaves_and_the_rest_are_still_written() -> None:
    cohort = Cohort()
    wires = [_Wire(), _Wire(broken=True), _Wire()]
    conns = [_member(cohort, w, 0) for w in wires]
    assert await cohort.write(1, b"1", 10, lambda conn: conn.writer._protocol.write(b"1") is None) == 2  # type: ignore[union-attr]
    assert conns[1].closed and conns[1] not in cohort and conns[1].last_id == 0
    assert [len(w.frames) for w in wires] == [1, 0, 1] and len(cohort) == 2


async def test_a_backlog_of_frames_goes_to_each_socket_in_one_write_in_order_once_each(
    server: LiveServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A burst published faster than the fan-out runs (here: without a turn of the loop in between) waits in
    # the hub's inbox; each channel's waiting frames then reach a socket as one write, interleaved channels,
    # heartbeats and notices keeping their places.
    party = await Party.create(client)
    watchers = await _viewers(server, party.slug, 4)
    staff = await WsClient(f"{server.ws_url}/api/v1/events/{party.slug}/ws?as=staff", party.mod).connect()
    await staff.wait(lambda f: f["type"] == "snapshot")
    ctx = server.app.state.ctx
    hub = ctx.hub
    event_id = await _event_id(server, party.slug)
    public, staff_channel = f"public:{event_id}", f"staff:{event_id}"
    await ctx.bus.publish(public, "question.updated", '{"id": 0}')  # everyone in step: in the batch
    await wait_for(lambda: len(_cohort(server, public)) == 4 or None, 10, message="in the batch")
    sizes: list[int] = []
    fan_out = hub._fan_out

    async def recording(frames: list[Any]) -> None:
        sizes.append(len(frames))
        await fan_out(frames)

    monkeypatch.setattr(hub, "_fan_out", recording)
    for n in range(1, 61):
        await ctx.bus.publish(public, "question.updated", f'{{"id": {n}}}')
        await ctx.bus.publish(staff_channel, "question.updated", f'{{"id": {n}}}')
        await ctx.bus.publish(f"notices:{event_id}", "notice", '{"to": [], "notice": {}}')  # as an approval does
        if n == 30:
            hub._broadcast(public, '{"type":"presence","data":{"viewers":9999}}')
    for w in [*watchers, staff]:
        await w.wait(lambda f: f["type"] == "question.updated" and f["data"]["id"] == 60, message="the last frame")
        got = [f["data"]["id"] for f in w.of_type("question.updated")]
        assert got[-60:] == list(range(1, 61)), "every frame once, in order"
        ids = [f["id"] for f in w.numbered()]
        assert ids == list(range(ids[0], ids[0] + len(ids)))
    for w in watchers:
        at = next(i for i, f in enumerate(w.frames) if f["type"] == "presence" and f["data"]["viewers"] == 9999)
        before = [f["data"]["id"] for f in w.frames[:at] if f["type"] == "question.updated"]
        assert before[-1] == 30, "the presence frame kept its place between frames 30 and 31"
    assert max(sizes) > 1 and sum(sizes) == 120, sizes  # coalesced, and nothing written twice
    assert len(_cohort(server, public)) == 4
    await asyncio.gather(*(w.close() for w in [*watchers, staff]))
