"""Drill: every kind of malformed client frame against a real web process (the events socket below ASGI).

Each is closed with websockets' code for it (1002 protocol error, 1007 bad UTF-8, 1009 too big; 1008 for JSON
that is not an object; a binary message drops the connection, as before), the process keeps serving, and a
flood of them leaves its memory where it was.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.drill.procs import rss_bytes, web_process
from tests.server.test_questions import Party
from tests.server.test_rawws import HELLO, MALFORMED, Recording
from tests.support import wait_for

pytestmark = pytest.mark.slow

ROUNDS = 5


async def test_every_malformed_frame_is_closed_with_its_code_and_the_process_serves_on(tmp_path: Path) -> None:
    async with web_process(tmp_path) as node, httpx.AsyncClient(base_url=node.base_url, timeout=20) as client:
        party = await Party.create(client)
        path = f"/api/v1/events/{party.slug}/ws"
        rss_before = 0
        for round_ in range(ROUNDS):
            if round_ == 1:
                rss_before = rss_bytes(node.proc.pid)  # after the first round warmed everything up
            for case, (raw, code) in MALFORMED.items():
                viewer = await Recording.connect("127.0.0.1", node.port, path)
                assert isinstance(viewer, Recording)
                viewer.send_raw(HELLO)
                await wait_for(lambda v=viewer: v.texts >= 1, 10, message="snapshot")
                viewer.send_raw(raw)
                await viewer.wait_closed(10)
                await wait_for(lambda v=viewer: v._lost.is_set(), 15, message=f"{case}: connection dropped")
                close = viewer.close_frame()
                assert (close[0] if close else None) == code, (case, close)
        grown = rss_bytes(node.proc.pid) - rss_before
        assert grown < 8 * 1024 * 1024, grown
        fresh = await Recording.connect("127.0.0.1", node.port, path)
        fresh.send_raw(HELLO)
        await wait_for(lambda: fresh.texts >= 1, 10, message="a fresh viewer's snapshot")
        fresh.abort()
