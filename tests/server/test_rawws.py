"""The events socket below ASGI (server/realtime/rawws.py) against uvicorn's path, through raw sockets.

Each test that compares runs the same client on both paths: the lean one (what every server runs) and the
ASGI one (uvicorn's protocol and Starlette, taken when `take_over` declines, e.g. with permessage-deflate).
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from starlette.responses import Response
from starlette.websockets import WebSocketDisconnect

from server.api import realtime as realtime_api
from server.realtime import rawws, upgrade
from server.realtime.hub import Connection
from server.realtime.wire import DirectWriter
from tests.drill.rawws import ZERO_MASK, RawViewer, client_frame
from tests.server.test_questions import Party
from tests.support import LiveServer, wait_for

HELLO = client_frame(0x1, b'{"type":"hello","last_id":null}')

# Malformed client input and the close code both paths answer it with (None: closed without a close frame).
MALFORMED: dict[str, tuple[bytes, int | None]] = {
    "one frame over 4 KiB": (client_frame(0x1, b"x" * 5000), 1009),
    "fragments over 4 KiB together": (client_frame(0x1, b"x" * 3000, fin=False) + client_frame(0x0, b"x" * 3000), 1009),
    "a ping over 4 KiB": (client_frame(0x9, b"x" * 5000), 1009),
    "a header announcing 2**63 bytes": (bytes([0x81, 0xFF]) + struct.pack("!Q", 2**63) + ZERO_MASK, 1009),
    "an unknown opcode": (client_frame(0x3, b""), 1002),
    "an unmasked frame": (b"\x81\x02hi", 1002),
    "reserved bits set": (bytes([0xC1, 0x80]) + ZERO_MASK, 1002),
    "a control frame over 125 bytes": (client_frame(0x9, b"x" * 126), 1002),
    "a fragmented control frame": (client_frame(0x9, b"", fin=False), 1002),
    "a continuation with no message": (client_frame(0x0, b"x"), 1002),
    "a new message inside a fragmented one": (client_frame(0x1, b"{", fin=False) + client_frame(0x1, b"{}"), 1002),
    "text that is not UTF-8": (client_frame(0x1, b'{"type":"ping","x":"\xff"}'), 1007),
    "a close frame of one byte": (client_frame(0x8, b"\x03"), 1002),
    "a close code no peer may send": (client_frame(0x8, struct.pack("!H", 1005)), 1002),
    "a close reason that is not UTF-8": (client_frame(0x8, struct.pack("!H", 1000) + b"\xff"), 1007),
    "a binary message": (client_frame(0x2, b"\x00\x01"), None),
    "JSON that is not an object": (client_frame(0x1, b"[1]"), 1008),
}


class Recording(RawViewer):
    """A raw viewer that also keeps every byte the server sent."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.raw = bytearray()

    def data_received(self, data: bytes) -> None:
        self.raw += data
        super().data_received(data)

    def frames(self) -> Iterator[tuple[int, bytes]]:
        """(opcode, payload) of every server frame received (unmasked, as a server sends them)."""
        buf = bytes(self.raw)
        at = buf.find(b"\r\n\r\n") + 4
        while len(buf) - at >= 2:
            opcode, n, start = buf[at] & 0x0F, buf[at + 1] & 0x7F, at + 2
            if n == 126:
                n, start = struct.unpack_from("!H", buf, at + 2)[0], at + 4
            elif n == 127:
                n, start = struct.unpack_from("!Q", buf, at + 2)[0], at + 10
            if len(buf) - start < n:
                return
            yield opcode, buf[start : start + n]
            at = start + n

    def close_frame(self) -> tuple[int, str] | None:
        for opcode, payload in self.frames():
            if opcode == 0x8:
                return struct.unpack("!H", payload[:2])[0], payload[2:].decode()
        return None


async def _connect(server: LiveServer, slug: str, lean: bool, monkeypatch: pytest.MonkeyPatch) -> Recording:
    with monkeypatch.context() as patch:
        if not lean:
            patch.setattr(upgrade, "take_over", lambda *args: False)
        path = f"/api/v1/events/{slug}/ws"
        viewer = await Recording.connect("127.0.0.1", server.settings.port, path)
    assert isinstance(viewer, Recording)
    return viewer


async def _hello(viewer: Recording) -> None:
    viewer.send_raw(HELLO)
    await wait_for(lambda: viewer.texts >= 1, 10, message="snapshot")


async def _upgrade_status(server: LiveServer, path: str) -> bytes:
    """The status line the server answers an upgrade of `path` with."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.settings.port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    status = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    return status


def _connections(server: LiveServer) -> list[Connection]:
    hub = server.app.state.ctx.hub
    return [conn for conns in hub._by_channel.values() for conn in conns]


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_malformed_client_frames_are_closed_alike_on_both_paths(
    server: LiveServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    raw, code = MALFORMED[case]
    party = await Party.create(client)
    answers = []
    for lean in (True, False):
        viewer = await _connect(server, party.slug, lean, monkeypatch)
        await _hello(viewer)
        viewer.send_raw(raw)
        await viewer.wait_closed(10)
        await wait_for(lambda v=viewer: v._lost.is_set(), 15, message="the server dropped the connection")
        close = viewer.close_frame()
        assert (close[0] if close else None) == code, (lean, close)
        answers.append(close)
    assert answers[0] == answers[1], "the same close code and reason on the lean and the ASGI path"
    # The server still serves others.
    fresh = await _connect(server, party.slug, True, monkeypatch)
    await _hello(fresh)
    fresh.abort()


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "asgi"])
async def test_fragments_pings_and_the_close_handshake(
    server: LiveServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, lean: bool
) -> None:
    party = await Party.create(client)
    known = set(_connections(server))
    before = len(known)
    viewer = await _connect(server, party.slug, lean, monkeypatch)
    # A hello in three fragments with a ping between them, the fragments split across writes.
    hello = b'{"type":"hello","last_id":null}'
    data = (
        client_frame(0x1, hello[:5], fin=False)
        + client_frame(0x9, b"ping-1")
        + client_frame(0x0, hello[5:20], fin=False)
        + client_frame(0x0, hello[20:])
    )
    for at in range(0, len(data), 7):
        viewer.send_raw(data[at : at + 7])
        await asyncio.sleep(0)
    await wait_for(lambda: viewer.texts >= 1, 10, message="the snapshot for a fragmented hello")
    assert (0xA, b"ping-1") in list(viewer.frames()), "a client's ping is answered with its payload"
    await wait_for(lambda: len(_connections(server)) == before + 1 or None, 5, message="in the hub")
    (conn,) = set(_connections(server)) - known
    assert isinstance(conn.writer, rawws.LeanWriter) == lean and isinstance(conn.writer, DirectWriter)
    # The close handshake: the server answers with the same code and drops the socket; it leaves the hub.
    viewer.send_raw(client_frame(0x8, struct.pack("!H", 1000) + "再见".encode()))
    assert await viewer.wait_closed(5) == 1000
    assert viewer.close_frame() == (1000, "再见")
    await wait_for(lambda: len(_connections(server)) == before or None, 5, message="left the hub")


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "asgi"])
async def test_an_abrupt_disconnect_leaves_the_hub_and_the_viewer_count(
    server: LiveServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, lean: bool
) -> None:
    party = await Party.create(client)
    before = len(_connections(server))
    viewers = [await _connect(server, party.slug, lean, monkeypatch) for _ in range(3)]
    for v in viewers:
        await _hello(v)
    await wait_for(lambda: len(_connections(server)) == before + 3 or None, 5, message="three in the hub")
    viewers[0].abort()
    # Mid-message: an unfinished frame, then gone.
    viewers[1].send_raw(client_frame(0x1, b'{"type":"ping"}')[:6])
    viewers[1].abort()
    await wait_for(lambda: len(_connections(server)) == before + 1 or None, 5, message="two left the hub")
    viewers[2].send_raw(client_frame(0x1, b'{"type":"ping"}'))
    await wait_for(lambda: viewers[2].texts >= 2, 5, message="the one left still answered")
    viewers[2].abort()
    await wait_for(lambda: len(_connections(server)) == before or None, 5, message="all left the hub")


async def test_the_hub_serves_both_paths_alike(
    server: LiveServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Viewers on both paths at once, approvals flowing while one of each says hello again: every viewer gets
    # every numbered frame once, in order.
    party = await Party.create(client)
    seen: dict[int, list[dict[str, Any]]] = {}

    async def viewer(index: int, lean: bool) -> RawViewer:
        seen[index] = []
        with monkeypatch.context() as patch:
            if not lean:
                patch.setattr(upgrade, "take_over", lambda *args: False)
            v = await RawViewer.connect(
                "127.0.0.1", server.settings.port, f"/api/v1/events/{party.slug}/ws", seen[index].append
            )
        v.hello()
        await wait_for(lambda: seen[index] or None, 10, message="snapshot")
        return v

    viewers = [await viewer(i, lean=i % 2 == 0) for i in range(6)]
    writers = {type(c.writer) for c in _connections(server) if c.writer is not None}
    assert writers == {rawws.LeanWriter, DirectWriter}
    askers = [await party.viewer(f"观众{n}") for n in range(8)]
    qids = [(await party.ask(a, f"第{n}个问题：基坑怎么监测？")).json()["id"] for n, a in enumerate(askers)]
    for n, qid in enumerate(qids):
        await party.act(party.mod, qid, "approve")
        if n == 3:
            viewers[0].hello()
            viewers[1].hello()
    for index in seen:
        await wait_for(
            lambda i=index: (
                {f["data"]["id"] for f in seen[i] if f["type"] == "question.approved"} >= set(qids[4:]) or None
            ),
            10,
            message="the approvals",
        )
    for index, frames in seen.items():
        last = [f for f in frames if f["type"] == "snapshot"][-1]
        after = frames[frames.index(last) + 1 :]
        ids = [f["id"] for f in after if "id" in f and f["type"] != "snapshot"]
        assert ids == list(range(last["id"] + 1, last["id"] + 1 + len(ids))), (index, ids)
    for v in viewers:
        v.abort()


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "asgi"])
async def test_the_handshake_is_logged_as_uvicorn_logs_it(
    server: LiveServer,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    lean: bool,
) -> None:
    party = await Party.create(client)
    with caplog.at_level(logging.INFO, logger="uvicorn.error"):
        viewer = await _connect(server, party.slug, lean, monkeypatch)
        with monkeypatch.context() as patch:
            if not lean:
                patch.setattr(upgrade, "take_over", lambda *args: False)
            refused = await _upgrade_status(server, "/api/v1/events/no-such/ws")
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.endswith(f'"WebSocket /api/v1/events/{party.slug}/ws" [accepted]') for m in messages), messages
    assert any(m.endswith('"WebSocket /api/v1/events/no-such/ws" 404') for m in messages), messages
    assert refused.startswith(b"HTTP/1.1 404"), refused
    viewer.abort()


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "asgi"])
async def test_a_socket_that_never_says_hello_is_closed_1008(
    server: LiveServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, lean: bool
) -> None:
    monkeypatch.setattr(realtime_api, "HELLO_TIMEOUT_S", 0.5)
    party = await Party.create(client)
    known = set(_connections(server))
    viewer = await _connect(server, party.slug, lean, monkeypatch)
    assert await viewer.wait_closed(5) == 1008
    assert viewer.close_frame() == (1008, "no hello")
    await wait_for(lambda: not set(_connections(server)) - known or None, 5, message="left the hub")


async def _upgrade_answer(server: LiveServer, path: str, headers: dict[str, str]) -> tuple[bytes, bytes]:
    """The status line and, for a refusal, the body the server answers an upgrade with."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.settings.port)
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.settings.port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        f"{extra}\r\n".encode()
    )
    status = await asyncio.wait_for(reader.readline(), 5)
    body = b""
    if not status.startswith(b"HTTP/1.1 101"):
        rest = await asyncio.wait_for(reader.read(), 5)  # a refusal closes the connection
        body = rest.split(b"\r\n\r\n", 1)[1]
    writer.close()
    return status, body


async def test_a_cookies_origin_is_checked_alike_on_both_paths(
    server: LiveServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    party = await Party.create(client)
    token = (await party.viewer())["Authorization"].removeprefix("Bearer ")
    cookie = {"Cookie": f"sitecast_{party.slug}={token}"}
    path = f"/api/v1/events/{party.slug}/ws"
    cases = {
        "foreign origin": {**cookie, "Origin": "https://evil.example"},
        "no origin": cookie,
        "own origin": {**cookie, "Origin": f"http://127.0.0.1:{server.settings.port}"},
        "forged token": {"Authorization": "Bearer forged"},
    }
    answers: dict[bool, dict[str, tuple[bytes, bytes]]] = {}
    for lean in (True, False):
        with monkeypatch.context() as patch:
            if not lean:
                patch.setattr(upgrade, "take_over", lambda *args: False)
            answers[lean] = {case: await _upgrade_answer(server, path, headers) for case, headers in cases.items()}
    lean_answers = answers[True]
    assert lean_answers["foreign origin"][0].startswith(b"HTTP/1.1 403")
    assert b"bad_origin" in lean_answers["foreign origin"][1]
    assert lean_answers["no origin"][0].startswith(b"HTTP/1.1 403")
    assert lean_answers["own origin"][0].startswith(b"HTTP/1.1 101")
    assert lean_answers["forged token"][0].startswith(b"HTTP/1.1 401")
    assert answers[True] == answers[False], "the same statuses and JSON bodies on both paths"


def _lean_sockets(server: LiveServer) -> set[rawws.ViewerSocket]:
    return {p for p in server.server.server_state.connections if isinstance(p, rawws.ViewerSocket)}


async def _lean_viewer(server: LiveServer, slug: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Recording, Any]:
    """A lean viewer past its hello, and its protocol on the server."""
    before = _lean_sockets(server)
    viewer = await _connect(server, slug, True, monkeypatch)
    await _hello(viewer)
    (protocol,) = _lean_sockets(server) - before
    return viewer, protocol


async def test_a_ping_flood_from_a_client_that_never_reads_holds_one_pong(
    server: LiveServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pong per ping piled up without bound for a client that sends pings and never reads (149 MB in a
    review's probe): now the latest ping only is answered, once the socket can be written again."""
    party = await Party.create(client)
    viewer, protocol = await _lean_viewer(server, party.slug, monkeypatch)
    viewer.stop_reading()
    burst = client_frame(0x9, b"p" * 125) * 2000  # 262 KB of pings a write
    for _ in range(60):  # ~16 MB in all
        viewer.send_raw(burst)
        await asyncio.sleep(0.01)
    await wait_for(lambda: viewer.transport is not None and viewer.transport.get_write_buffer_size() == 0, 20)
    buffered = protocol.transport.get_write_buffer_size()
    print(f"the server's write buffer after ~16 MB of pings: {buffered} bytes")
    assert buffered < 256 * 1024
    viewer.abort()


async def test_a_client_that_closes_while_not_reading_is_dropped_in_bounded_time(
    server: LiveServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A close waits for what is buffered to be written; a client that stopped reading never takes it, so
    without a deadline the socket and its buffer were kept for good once the client had sent its close."""
    monkeypatch.setattr(rawws, "CLOSE_TIMEOUT_SECONDS", 1.0)
    party = await Party.create(client)
    viewer, protocol = await _lean_viewer(server, party.slug, monkeypatch)
    viewer.stop_reading()
    protocol.transport.write(b"\x82\x7f" + struct.pack("!Q", 8 << 20) + bytes(8 << 20))  # a backlog of 8 MB
    viewer.send_raw(client_frame(0x8, struct.pack("!H", 1001)))
    await wait_for(lambda: protocol.disconnected, 10, message="the server dropped the socket")
    assert protocol not in server.server.server_state.connections
    viewer.abort()


class _Transport:
    """Enough of a transport for the protocol's own bookkeeping (no socket)."""

    def __init__(self) -> None:
        self.closing = False
        self.out: list[bytes] = []

    def get_extra_info(self, name: str) -> None:
        return None

    def is_closing(self) -> bool:
        return self.closing

    def write(self, data: bytes) -> None:
        self.out.append(data)

    def close(self) -> None:
        self.closing = True

    abort = close

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def test_a_replay_socket_gone_during_its_lookup_is_not_left_in_the_sweep(server: LiveServer) -> None:
    """A replay viewer's socket that dropped while the session looked its caller up was adopted by the ping
    sweep after its connection was lost, and never dropped from it (a page navigation does this)."""
    keepalive = server.app.state.ctx.hub.keepalive
    transport = _Transport()
    state = server.server.server_state
    protocol = rawws.ViewerSocket(transport, state, None, "key")  # type: ignore[arg-type]
    transport.closing = True
    protocol.connection_lost(None)
    ended: list[bool] = []
    session = SimpleNamespace(conn=None, c=server.app.state.ctx, end=lambda: ended.append(True))
    before = len(keepalive._members)
    protocol.follow(session)  # type: ignore[arg-type]
    assert ended == [True] and len(keepalive._members) == before and protocol.keepalive is None


def _bare_socket() -> tuple[rawws.ViewerSocket, _Transport]:
    """A protocol on a transport of its own, its handshake not answered yet (the session looks up its caller)."""
    transport = _Transport()
    state = SimpleNamespace(connections=set(), tasks=set(), default_headers=[])
    return rawws.ViewerSocket(transport, state, None, "a-key"), transport  # type: ignore[arg-type]


async def test_bytes_sent_before_the_handshake_is_answered_are_read_after_it() -> None:
    """A ping that arrives while the session still looks up its caller is answered after the 101, never
    before it (nor a close frame before an HTTP denial)."""
    protocol, transport = _bare_socket()
    protocol.data_received(client_frame(0x9, b"early") + client_frame(0x1, b"[1]"))
    assert transport.out == []
    await protocol.accept()
    assert transport.out[0].startswith(b"HTTP/1.1 101 ") and b"sec-websocket-accept: a-key" in transport.out[0]
    assert transport.out[1] == b"\x8a\x05early"  # then the pong
    denied, transport = _bare_socket()
    denied.data_received(client_frame(0x8, struct.pack("!H", 1000)))
    await denied.deny(Response(b'{"error":{}}', 403))
    assert len(transport.out) == 1 and transport.out[0].startswith(b"HTTP/1.1 403 Forbidden")


async def test_sending_after_the_clients_close_is_a_disconnect_not_a_server_error() -> None:
    protocol, _ = _bare_socket()
    await protocol.accept()
    protocol.data_received(client_frame(0x8, struct.pack("!H", 1001)))  # a tab closed during a replay
    with pytest.raises(WebSocketDisconnect):
        await protocol.send_text('{"type":"snapshot"}')
