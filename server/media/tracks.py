"""The track each WHEP sender is given: it only says when the viewer's stream ends.

Frames do not go through `recv()`: the feed hands each frame, packetised once, to every
viewer's RtpStream (server/media/rtp_stream.py), which sends it at once. aiortc's sender
loop waits in `recv()` until the track stops, then ends as it always does.
"""

from __future__ import annotations

import asyncio

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack


class ForwardedTrack(MediaStreamTrack):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._ended = asyncio.Event()

    async def recv(self) -> None:  # type: ignore[override]
        await self._ended.wait()
        raise MediaStreamError

    def stop(self) -> None:
        self._ended.set()
        super().stop()
