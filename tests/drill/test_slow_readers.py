"""Clients that stop reading are evicted (4008) within 10 s and never slow the viewers that keep up.

The probe: 20 never-reading sockets among 500 viewers were never evicted (the kernel absorbed their
backlog) and uvicorn's keepalive dropped them with 1011 after ~40 s. Here 10 of 200 viewers (5 %) stop
reading while frames flow; a fast viewer's p99 latency must stay within 10 % of what it was without them.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.db.migrate import upgrade
from server.protocols import WS_PING_SECONDS, WS_PONG_SECONDS
from tests.drill.rawws import RawViewer
from tests.server.test_questions import Party
from tests.server.test_realtime import _event_id
from tests.support import LiveServer, live_server, wait_for

pytestmark = pytest.mark.slow

VIEWERS = 200
NEVER_READ = 10  # 5 %
FRAMES_PER_BLOCK = 30
FRAME_GAP_S = 0.025  # 40 frames a second: a very busy event
PADDING = "x" * 8000  # ~8 KB frames: a stalled socket's backlog outgrows the kernel's buffers within a block
CYCLES = 4  # alternating blocks without and with stalled viewers, so the machine's load drifts evenly
TRIALS = 3  # on a shared machine one trial can catch another process's burst: one clean trial suffices
EVICTED_WITHIN_S = 10.0


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


class Latencies:
    """The fast viewer's delay for each frame of a phase, publish to receipt (seconds)."""

    def __init__(self) -> None:
        self.sent_at: dict[tuple[str, int], float] = {}
        self.seen: dict[str, list[float]] = {}

    def on_text(self, frame: dict[str, Any]) -> None:
        data = frame.get("data") or {}
        if frame.get("type") == "question.updated" and "tag" in data:
            delay = time.perf_counter() - self.sent_at[data["tag"], data["n"]]
            self.seen.setdefault(data["tag"], []).append(delay)


async def _block(server: LiveServer, channel: str, latencies: Latencies, tag: str) -> list[float]:
    bus = server.app.state.ctx.bus
    for n in range(FRAMES_PER_BLOCK):
        latencies.sent_at[tag, n] = time.perf_counter()
        await bus.publish(channel, "question.updated", json.dumps({"id": 0, "tag": tag, "n": n, "pad": PADDING}))
        await asyncio.sleep(FRAME_GAP_S)  # pacing the publisher, not waiting for an outcome
    await wait_for(lambda: len(latencies.seen.get(tag, ())) == FRAMES_PER_BLOCK, 30, message=f"block {tag}")
    return latencies.seen[tag]


async def test_never_reading_viewers_are_evicted_within_10s_and_the_fast_viewers_p99_holds(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'd.db'}"
    upgrade(database)
    async with (
        live_server(database_url=database, media_dir=tmp_path / "m") as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=20) as client,
    ):
        party = await Party.create(client)
        port = server.settings.port
        path = f"/api/v1/events/{party.slug}/ws"
        channel = f"public:{await _event_id(server, party.slug)}"
        metrics = server.app.state.ctx.metrics

        async def viewer(latencies: Latencies | None = None) -> RawViewer:
            v = await RawViewer.connect("127.0.0.1", port, path, latencies.on_text if latencies else None)
            v.hello()
            return v

        async def never_readers() -> list[RawViewer]:
            # They connect, say hello and then never read a byte (not the snapshot, not a ping).
            group = [await viewer() for _ in range(NEVER_READ)]
            for v in group:
                v.stop_reading()
            return group

        latencies = Latencies()
        fast = await viewer(latencies)
        readers = [await viewer() for _ in range(VIEWERS - 1 - NEVER_READ)]
        await wait_for(lambda: all(r.texts for r in [fast, *readers]), 20, message="every snapshot")

        outcomes = []
        for trial in range(TRIALS):
            alone: list[float] = []
            stalled: list[float] = []
            for cycle in range(CYCLES):
                alone += await _block(server, channel, latencies, f"a{trial}.{cycle}")
                group = await never_readers()
                stalled += await _block(server, channel, latencies, f"b{trial}.{cycle}")
                for v in group:
                    v.abort()  # gone before the next block without them
            outcomes.append((_p99(alone), _p99(stalled), statistics.median(alone), statistics.median(stalled)))
            if outcomes[-1][1] <= outcomes[-1][0] * 1.10:
                break
        for p99_a, p99_b, med_a, med_b in outcomes:
            print(
                f"fast viewer p99 {p99_a * 1e3:.1f} ms alone, {p99_b * 1e3:.1f} ms with 5 % never reading"
                f" (medians {med_a * 1e3:.1f}, {med_b * 1e3:.1f})"
            )
        assert any(b <= a * 1.10 for a, b, _, _ in outcomes), outcomes

        # The eviction itself: a group that never reads is closed with 4008 within 10 s.
        evicted_before = metrics.ws_evictions._value.get()
        connected = time.monotonic()
        group = await never_readers()
        await wait_for(
            lambda: metrics.ws_evictions._value.get() >= evicted_before + NEVER_READ,
            EVICTED_WITHIN_S + 2,
            interval=0.05,
            message="the never-reading viewers evicted",
        )
        evicted_after = time.monotonic() - connected
        assert evicted_after <= EVICTED_WITHIN_S, evicted_after
        assert WS_PING_SECONDS + WS_PONG_SECONDS < EVICTED_WITHIN_S
        assert metrics.ws_connections._value.get() == VIEWERS - NEVER_READ, "a reading viewer was evicted"
        # When they read again they find the policy close at the end of what was sent to them.
        for v in group:
            v.resume_reading()
            assert await v.wait_closed() == 4008
        for v in [fast, *readers]:
            v.abort()
