"""One stage member seen over WHEP by staff (experts see and hear each other, a moderator previews a
guest backstage): the member's packets forwarded as they arrive, never decoded, never recorded.

H.264 and Opus only, as every WHEP viewer accepts (a VP8 member is seen in the programme only).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from .aiortc_hooks import H264Packetizer
from .bitstream import h264_is_keyframe, h264_tidy_access_unit
from .feed import AUDIO_BUFFERED_SECONDS, AUDIO_CLOCK, PICTURE_LOSS_INTERVAL, VIDEO_BUFFERED_SECONDS, VIDEO_CLOCK
from .ntp import NtpClock, ntp_from_seconds
from .rtp_stream import OutgoingFrame
from .timeline import Timeline
from .viewer import Viewer


class Monitor:
    def __init__(self) -> None:
        self.viewers: set[Viewer] = set()
        self.clock = NtpClock()
        self.keyframe_requester: Callable[[], Awaitable[None]] | None = None
        self._h264 = H264Packetizer()
        self._timeline = Timeline()
        self._ntp_offset: float | None = None
        self._picture_loss_at = -PICTURE_LOSS_INTERVAL

    def on_frame(self, codec: str, data: bytes, rtp_timestamp: int) -> None:
        if not self.viewers:
            return
        if codec == "H264":
            seconds = self._timeline.at("video", rtp_timestamp, VIDEO_CLOCK, VIDEO_BUFFERED_SECONDS)
            keyframe = h264_is_keyframe(data)
            if keyframe:
                data = h264_tidy_access_unit(data)
            self._forward("video", self._h264.payloads(data), seconds, VIDEO_CLOCK, keyframe)
        elif codec == "opus":
            seconds = self._timeline.at("audio", rtp_timestamp, AUDIO_CLOCK, AUDIO_BUFFERED_SECONDS)
            self._forward("audio", [data], seconds, AUDIO_CLOCK, True)

    def _forward(self, kind: str, payloads: list[bytes], seconds: float, clock_rate: int, keyframe: bool) -> None:
        if self._ntp_offset is None:
            self._ntp_offset = self.clock.seconds() - seconds
        ntp = ntp_from_seconds(self._ntp_offset + seconds)
        frame = OutgoingFrame(payloads, round(seconds * clock_rate), keyframe, ntp, sum(map(len, payloads)))
        for viewer in self.viewers:
            viewer.send(kind, frame)

    async def request_keyframe(self) -> None:
        requester = self.keyframe_requester
        if requester is not None:
            await requester()

    def picture_loss_due(self) -> bool:
        now = time.monotonic()
        if now - self._picture_loss_at < PICTURE_LOSS_INTERVAL:
            return False
        self._picture_loss_at = now
        return True

    def stop(self) -> None:
        for viewer in list(self.viewers):
            viewer.stop()
        self.viewers.clear()
