"""The event bus seam: ordered, numbered frames per channel, with bounded retention for replay.

Two implementations: `MemoryBus` (the embedded default, one process) and `RedisBus` (Redis Streams, any
number of processes). Both number frames 1-by-1 per channel and hand every frame to one `Sink` per
process (the WebSocket hub), which fans it out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Frame:
    channel: str
    id: int
    text: str  # the complete JSON frame, built once and sent as-is to every socket


def render(frame_type: str, frame_id: int, data_json: str) -> str:
    # Built by string formatting so the (possibly large) data is serialised once, not per channel/socket.
    return f'{{"type":{json.dumps(frame_type)},"id":{frame_id},"data":{data_json}}}'


def dump(data: Mapping[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)


class BusUnavailable(Exception):
    """The bus's engine (Redis) cannot be reached now; the caller answers 503 / closes 1013 and it heals itself."""


class Sink(Protocol):
    def deliver(self, frame: Frame) -> None: ...

    def resync(self) -> None:
        """Numbering was lost (Redis restarted empty, or frames were dropped): every client needs a snapshot."""


class Bus(Protocol):
    async def start(self, sink: Sink) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, channel: str, frame_type: str, data_json: str) -> int:
        """Append a frame; returns its id (0: not numbered yet, the bus retries it). Called only after the
        database commit, so it never fails the caller: the change is already made."""

    async def position(self, channel: str) -> int:
        """The id of the newest frame of `channel` (what a snapshot taken now corresponds to)."""

    async def since(self, channel: str, last_id: int) -> list[Frame] | None:
        """Frames after `last_id`, in order; None when `last_id` is no longer retained (resync)."""

    async def watch(self, channel: str) -> None:
        """This process has a listener on `channel`; call before reading its position (no gap)."""

    def unwatch(self, channel: str) -> None: ...

    async def presence(self, event_id: int, local_count: int) -> int:
        """Report this process's viewer count for an event; returns the total over all processes."""
