"""Outgoing WHEP track that forwards already-encoded packets (no per-viewer encode).

aiortc's RTCRtpSender packetises an `av.Packet` returned by `recv()` as it is
(`Encoder.pack`), so every viewer costs only RTP packetisation and SRTP.
"""

from __future__ import annotations

import asyncio
from fractions import Fraction

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

# About 4 s of video or 2 s of audio: a viewer this far behind is dropped back to the next
# keyframe instead of growing memory (a slow viewer never stalls the publisher or others).
VIEWER_QUEUE_PACKETS = 120


class PacketTrack(MediaStreamTrack):
    """Forwards the feed's packets; video starts (and restarts after overflow) at a keyframe."""

    def __init__(self, kind: str, clock_rate: int) -> None:
        super().__init__()
        self.kind = kind
        self._time_base = Fraction(1, clock_rate)
        self._clock_rate = clock_rate
        self._queue: asyncio.Queue[av.Packet | None] = asyncio.Queue(VIEWER_QUEUE_PACKETS)
        self._waiting_for_keyframe = kind == "video"
        self.dropped = 0

    def push(self, data: bytes, seconds: float, keyframe: bool) -> None:
        if self.readyState != "live":
            return
        if self._waiting_for_keyframe:
            if not keyframe:
                return
            self._waiting_for_keyframe = False
        if self._queue.full():
            self._drain()
            self.dropped += 1
            self._waiting_for_keyframe = self.kind == "video"
            if self._waiting_for_keyframe and not keyframe:
                return
        packet = av.Packet(data)
        packet.pts = packet.dts = round(seconds * self._clock_rate)
        packet.time_base = self._time_base
        self._queue.put_nowait(packet)

    async def recv(self) -> av.Packet:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        return packet

    def stop(self) -> None:
        if self.readyState == "live":
            self._drain()
            self._queue.put_nowait(None)  # wake the sender's recv() so it ends now
        super().stop()

    def _drain(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
