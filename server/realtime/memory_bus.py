"""In-process bus: a bounded ring of frames per channel. The embedded default (no Redis)."""

from __future__ import annotations

import time
from collections import deque

from server.realtime.bus import Frame, Sink, render

# Long enough for a phone that slept through a minute of a busy event; old ids get an explicit resync.
RETAINED_FRAMES = 2000
# Ids start from the wall clock so that ids issued before a restart are recognisably older than any
# id issued after it (clients holding one get `resync_required`, never a wrong replay). 1,000 ids per
# millisecond of uptime of headroom; stays below 2**53 for JavaScript clients until the year 2255.
IDS_PER_MS = 1000


class MemoryBus:
    def __init__(self, retained: int = RETAINED_FRAMES) -> None:
        self._base = int(time.time() * 1000) * IDS_PER_MS
        self._retained = retained
        self._frames: dict[str, deque[Frame]] = {}
        self._last: dict[str, int] = {}
        self._sink: Sink | None = None

    async def start(self, sink: Sink) -> None:
        self._sink = sink

    async def close(self) -> None:
        self._sink = None

    async def publish(self, channel: str, frame_type: str, data_json: str) -> int:
        frame_id = self._last.get(channel, self._base) + 1
        self._last[channel] = frame_id
        frame = Frame(channel, frame_id, render(frame_type, frame_id, data_json))
        ring = self._frames.get(channel)
        if ring is None:
            ring = self._frames[channel] = deque(maxlen=self._retained)
        ring.append(frame)
        if self._sink is not None:
            self._sink.deliver(frame)
        return frame_id

    async def position(self, channel: str) -> int:
        return self._last.get(channel, self._base)

    async def since(self, channel: str, last_id: int) -> list[Frame] | None:
        current = self._last.get(channel, self._base)
        if last_id > current or last_id < self._base:
            return None
        if last_id == current:
            return []
        ring = self._frames.get(channel, deque())
        if not ring or ring[0].id > last_id + 1:
            return None
        return [f for f in ring if f.id > last_id]

    async def watch(self, channel: str) -> None:
        return None

    def unwatch(self, channel: str) -> None:
        return None

    async def presence(self, event_id: int, local_count: int) -> int:
        return local_count
