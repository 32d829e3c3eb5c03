"""One WHEP viewer: the tracks its aiortc senders are given, and its RTP streams once negotiated."""

from __future__ import annotations

from collections.abc import Callable

from aiortc import RTCRtpSender
from aiortc.sdp import SessionDescription

from .ntp import NtpClock
from .rtp_stream import OutgoingFrame, RtpStream, SendParameters
from .tracks import ForwardedTrack

KINDS = ("video", "audio")


class Viewer:
    def __init__(self, clock: NtpClock, on_picture_loss: Callable[[], None] | None = None) -> None:
        self.tracks = {kind: ForwardedTrack(kind) for kind in KINDS}
        self.streams: dict[str, RtpStream] = {}
        self._clock = clock
        self._on_picture_loss = on_picture_loss

    def start(self, senders: list[RTCRtpSender], answer_sdp: str) -> None:
        """After setLocalDescription(answer): one stream per media section the answer accepted."""
        accepted = {m.kind for m in SessionDescription.parse(answer_sdp).media if m.port and m.rtp.codecs and m.ssrc}
        for sender in senders:
            if sender.kind in accepted:
                params = SendParameters.from_answer(answer_sdp, sender.kind)
                # A viewer's PLI/FIR (its decoder lost the picture) goes to the feed: video only.
                on_loss = self._on_picture_loss if sender.kind == "video" else None
                self.streams[sender.kind] = RtpStream(sender, params, self._clock, on_loss)

    def send(self, kind: str, frame: OutgoingFrame) -> None:
        stream = self.streams.get(kind)
        if stream is not None:
            stream.send(frame)

    @property
    def dropped(self) -> int:
        """Frames skipped because this viewer could not keep up (video restarts at a keyframe)."""
        return sum(stream.dropped for stream in self.streams.values())

    def stop(self) -> None:
        self.streams.clear()
        for track in self.tracks.values():
            track.stop()
