"""The raw HTTP path (server/media/rawhttp.py): live playlists, parts and segments answered by the protocol
itself, with the headers and bytes the app gives, in order on a connection, to slow readers too."""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import av
import httpx
import pytest

from server.media.live import LiveEdge

from .conftest import MediaServer, publish_token, requires_ffmpeg, run_media_server, wait_for
from .publishers import AiortcPublisher, PatternVideoTrack

pytestmark = [pytest.mark.slow, pytest.mark.media, requires_ffmpeg]

HINT = re.compile(r'PRELOAD-HINT:TYPE=PART,URI="(\d{6})\.(\d+)\.ts"')
SEGMENT = re.compile(r"^(\d{6})\.ts$", re.M)
PART = re.compile(r'URI="(\d{6}\.\d+\.ts)"')


class NoiseVideoTrack(PatternVideoTrack):
    """Small frames of noise: the encoder's whole bitrate, so parts and segments are tens of KB (sendfile's
    size) at little encoding cost."""

    def __init__(self) -> None:
        super().__init__(width=160, height=120)
        self.noise = [os.urandom(160 * 120) for _ in range(8)]

    async def recv(self) -> av.VideoFrame:
        frame = await super().recv()
        frame.planes[0].update(self.noise[self._n % len(self.noise)])
        return frame


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[MediaServer, LiveEdge]]:
    async with run_media_server(tmp_path / "media", raw=True) as server:
        pub = AiortcPublisher(server.url, "ev1", publish_token("ev1"))
        pub.video_track = NoiseVideoTrack()
        assert (await pub.start()).status_code == 201
        try:
            await wait_for(
                lambda: (f := server.service.feed("ev1")) is not None and f.edge.last_closed >= 2, 60, what="3 segments"
            )
            feed = server.service.feed("ev1")
            assert feed is not None
            yield server, feed.edge
        finally:
            await pub.close()


def newest(edge: LiveEdge) -> tuple[str, str]:
    """(a listed segment, a listed part) of the playlist as it is now."""
    assert edge.playlist is not None
    text = edge.playlist.decode()
    return f"{SEGMENT.findall(text)[-1]}.ts", PART.findall(text)[-1]


def without_date(response: httpx.Response, length: bool = True) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k != "date" and (length or k != "content-length")}


async def test_the_protocol_answers_with_the_apps_headers_and_bytes(live: tuple[MediaServer, LiveEdge]) -> None:
    server, edge = live
    segment, part = newest(edge)
    assert len(edge.blobs[segment]) > 16 * 1024  # big enough to be sendfile()d
    async with server.client() as http:
        for name in ("index.m3u8", segment, part):
            raw = await http.get(f"/live/ev1/{name}")
            # A conditional header makes the protocol pass the request on: the ASGI layer answers it.
            app = await http.get(f"/live/ev1/{name}", headers={"If-None-Match": '"x"'})
            head = await http.head(f"/live/ev1/{name}")
            assert raw.status_code == app.status_code == head.status_code == 200
            same_length = name != "index.m3u8"  # the playlist may have changed in between
            assert without_date(raw, same_length) == without_date(app, same_length) == without_date(head, same_length)
            if same_length:
                assert raw.content == app.content == edge.blobs[name]
                assert raw.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert head.content == b""
    answered = [target for target, _ in server.raw_answered]
    assert answered.count(f"/live/ev1/{segment}") == 2  # GET and HEAD, not the conditional one
    assert raw.headers["x-content-type-options"] == "nosniff" and raw.headers["server"] == "uvicorn"


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 10)
    return int(lines[0].split()[1]), headers, body


async def test_pipelined_requests_are_answered_in_order_even_behind_a_parked_reload(
    live: tuple[MediaServer, LiveEdge],
) -> None:
    server, edge = live
    segment, part = newest(edge)
    assert edge.playlist is not None
    hint = HINT.search(edge.playlist.decode())
    assert hint is not None
    msn, index = int(hint.group(1)), int(hint.group(2))
    reader, writer = await asyncio.open_connection("127.0.0.1", int(server.url.rsplit(":", 1)[1]))
    requests = (
        f"/live/ev1/index.m3u8?_HLS_msn={msn}&_HLS_part={index}",  # parked until that part is cut
        f"/live/ev1/{segment}",
        f"/live/ev1/{part}",
        f"/live/ev1/{msn:06d}.{index}.ts",  # the hinted part itself
    )
    writer.write(b"".join(f"GET {r} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for r in requests))
    status, headers, body = await read_response(reader)
    assert status == 200 and headers["cache-control"] == "public, max-age=6"
    assert f"{msn:06d}.{index}.ts".encode() in body
    for name in (segment, part, f"{msn:06d}.{index}.ts"):
        status, headers, body = await read_response(reader)
        assert status == 200 and body == edge.blobs[name], name
    writer.write(b"GET /live/ev1/index.m3u8 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    status, headers, _ = await read_response(reader)
    assert status == 200 and headers["connection"] == "close"
    assert await asyncio.wait_for(reader.read(), 5) == b""  # and closed
    writer.close()


async def test_a_slow_reader_gets_whole_segments_and_holds_up_nobody(live: tuple[MediaServer, LiveEdge]) -> None:
    server, edge = live
    segment, _ = newest(edge)
    expected = edge.blobs[segment]
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: the server's sendfile stops short
    slow.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(slow, ("127.0.0.1", int(server.url.rsplit(":", 1)[1])))
    await loop.sock_sendall(slow, f"GET /live/ev1/{segment} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    async with server.client() as http:  # while that one does not read, others are answered
        for _ in range(3):
            assert (await asyncio.wait_for(http.get("/live/ev1/index.m3u8"), 2)).status_code == 200
    received = bytearray()
    while not received.endswith(expected):
        chunk = await asyncio.wait_for(loop.sock_recv(slow, 4096), 10)
        assert chunk, "closed before the whole segment"
        received += chunk
        await asyncio.sleep(0)
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and body == expected
    slow.close()


async def test_a_viewer_leaving_while_parked_leaves_nothing_behind(
    live: tuple[MediaServer, LiveEdge], caplog: pytest.LogCaptureFixture
) -> None:
    server, edge = live
    port = int(server.url.rsplit(":", 1)[1])
    assert edge.playlist is not None
    hint = HINT.search(edge.playlist.decode())
    assert hint is not None
    msn, index = int(hint.group(1)), int(hint.group(2))
    for _ in range(5):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET /live/ev1/index.m3u8?_HLS_msn={msn}&_HLS_part={index} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        await writer.drain()
        writer.close()
    await wait_for(lambda: edge.has(msn, index), what="the awaited part")
    async with server.client() as http:
        again = await http.get("/live/ev1/index.m3u8", params={"_HLS_msn": msn, "_HLS_part": index})
        assert again.status_code == 200
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


async def test_a_segment_older_than_the_live_window_comes_from_the_disk_the_same_way(
    live: tuple[MediaServer, LiveEdge],
) -> None:
    server, edge = live
    await wait_for(lambda: "000001.ts" not in edge.blobs, 60, what="the first segment out of the live window")
    async with server.client() as http:
        old = await http.get("/live/ev1/000001.ts")
        segment, _ = newest(edge)
        recent = await http.get(f"/live/ev1/{segment}")
    assert old.status_code == 200
    assert old.content == (server.media_dir / "ev1" / "000001.ts").read_bytes()
    assert without_date(old, length=False) == without_date(recent, length=False)
    assert "/live/ev1/000001.ts" in [target for target, _ in server.raw_answered]
