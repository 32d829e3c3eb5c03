"""Fragmented WebSocket messages: the 4 KiB cap holds for a whole message, and nothing sent is kept.

The probe: 10 connections each sending an unfinished 15 MB fragmented message took the server's RSS from
205 to 361 MB, and it stayed after they closed. Here 10 connections send the same (1 KB fragments, never
a final one, up to 15 MB each): each is closed with 1009 once its message passes 4 KiB, within a second
(a flooder gets out a few hundred KB at most before the close reaches it; the server reads no further),
and the server's RSS does not grow by what they sent.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.drill.procs import rss_bytes, web_process
from tests.drill.rawws import RawViewer, client_frame
from tests.server.test_questions import Party

pytestmark = pytest.mark.slow

CONNECTIONS = 10
FRAGMENT = b"x" * 1024
MESSAGE_BYTES = 15 * 1024 * 1024
CLOSED_WITHIN_S = 1.0


async def _flood(viewer: RawViewer) -> int:
    """Send an unfinished fragmented message until the server closes; the bytes that were sent."""
    assert viewer.transport is not None
    viewer.send_raw(client_frame(0x1, FRAGMENT, fin=False))
    sent = len(FRAGMENT)
    continuation = client_frame(0x0, FRAGMENT, fin=False)
    while sent < MESSAGE_BYTES and not viewer.closed.is_set() and not viewer.transport.is_closing():
        viewer.send_raw(continuation)
        sent += len(FRAGMENT)
        await asyncio.sleep(0)  # as a network would: the server's answer may arrive between fragments
    return sent


async def test_an_unfinished_fragmented_message_is_closed_1009_and_its_memory_released(tmp_path: Path) -> None:
    async with web_process(tmp_path) as node, httpx.AsyncClient(base_url=node.base_url, timeout=20) as client:
        party = await Party.create(client)
        path = f"/api/v1/events/{party.slug}/ws"
        viewers = [await RawViewer.connect("127.0.0.1", node.port, path) for _ in range(CONNECTIONS)]
        for v in viewers:
            v.hello()
        rss_before = rss_bytes(node.proc.pid)

        started = time.monotonic()
        sent = await asyncio.gather(*(_flood(v) for v in viewers))
        codes = [await v.wait_closed(10) for v in viewers]
        took = time.monotonic() - started
        # A flooder still writing when the close arrives may get a reset (its kernel then drops the close
        # frame): closed either way, and never after reading 15 MB.
        assert set(codes) <= {1009, None}, codes
        assert took <= CLOSED_WITHIN_S, took
        assert max(sent) < MESSAGE_BYTES / 10, sent  # what they got out before the close reached them

        # One that stops after 8 KiB of an unfinished message reads the reason: 1009, message too big.
        polite = await RawViewer.connect("127.0.0.1", node.port, path)
        polite.hello()
        polite.send_raw(client_frame(0x1, FRAGMENT, fin=False) + client_frame(0x0, FRAGMENT * 7, fin=False))
        assert await polite.wait_closed(5) == 1009

        # The server is fine and holds nothing of what they sent.
        assert (await client.get("/healthz")).status_code == 200
        grown = rss_bytes(node.proc.pid) - rss_before
        print(
            f"{CONNECTIONS} fragmented floods ({sum(sent) / 2**20:.1f} MiB attempted): closed 1009 in "
            f"{took * 1e3:.0f} ms; server RSS grew {grown / 2**20:.1f} MiB"
        )
        assert grown < 8 * 2**20, grown
