"""Presence after a node dies: a SIGKILLed process's viewers leave the count within 2 heartbeats.

The probe: after SIGKILL of node A, node B reported `viewers: 4` for 1 real viewer for more than 2
minutes (A's field stayed in the Redis hash and B kept refreshing the key's TTL). Here, with a 1 s
heartbeat (PRESENCE_SECONDS), B's viewer sees the right count within 2 s of the kill.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.drill.procs import two_web_processes
from tests.server.test_questions import Party
from tests.support import WsClient

pytestmark = pytest.mark.slow

HEARTBEAT_S = 1.0


async def test_a_killed_nodes_viewers_leave_the_count_within_two_heartbeats(redis_url: str, tmp_path: Path) -> None:
    async with (
        two_web_processes(redis_url, tmp_path, PRESENCE_SECONDS=str(HEARTBEAT_S)) as (a, b),
        httpx.AsyncClient(base_url=b.base_url, timeout=20) as client,
    ):
        party = await Party.create(client)
        on_a = [await WsClient(f"{a.ws_url}/api/v1/events/{party.slug}/ws").connect() for _ in range(3)]
        on_b = await WsClient(f"{b.ws_url}/api/v1/events/{party.slug}/ws").connect()
        await on_b.wait(lambda f: f["type"] == "presence" and f["data"]["viewers"] == 4, 20, "4 viewers on B")

        a.proc.kill()  # SIGKILL: no shutdown, its field stays in Redis
        killed = time.monotonic()
        seen = len(on_b.frames)
        await on_b.wait(
            lambda f: f in on_b.frames[seen:] and f["type"] == "presence" and f["data"]["viewers"] == 1,
            10,
            "B's viewer told the right count",
        )
        took = time.monotonic() - killed
        print(f"after SIGKILL of A, B's viewer saw 1 viewer after {took:.2f} s (heartbeat {HEARTBEAT_S} s)")
        assert took <= 2 * HEARTBEAT_S + 0.25, took  # the frame's trip to the client: a few ms
        for ws in on_a:
            await ws.close()
        await on_b.close()
