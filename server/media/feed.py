"""One playlist of one event (the programme, or a screen share beside it): the recording, its writer
thread, its viewers.

Packets arrive on the event loop from the publisher's receivers, are stamped on the feed's
recording clock, and go — still encoded — to the writer thread and to every WHEP viewer
(packetised into RTP payloads once, whatever the number of viewers). Only VP8 video
(→ H.264) and Opus audio (→ AAC, for HLS) are ever encoded, once, in the writer thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import av

from .aiortc_hooks import H264Packetizer
from .bitstream import h264_is_keyframe, h264_tidy_access_unit, vp8_is_keyframe
from .errors import conflict
from .hls import HlsWriter, LiveUpdate, Segment
from .live import LiveEdge
from .ntp import NtpClock, ntp_from_seconds
from .rendition import LOW_DIRECTORY, LowRendition
from .rtp_stream import OutgoingFrame
from .timeline import Timeline
from .transcode import OpusToAac, PcmTap, Vp8ToH264
from .viewer import Viewer
from .worker import SerialWorker

VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000
# How long aiortc's jitter buffers hold a track's first frame before we see it (checked by
# tests/media/test_aiortc_hooks.py): audio waits for 4 more 20 ms Opus packets
# (JitterBuffer prefetch=4); video is released when the next frame's first packet arrives,
# one frame interval later (30 fps assumed, the WebRTC default for cameras).
AUDIO_BUFFERED_SECONDS = 4 * 0.020
VIDEO_BUFFERED_SECONDS = 1 / 30
# Viewers whose decoders lost the picture (PLI/FIR once retransmission could not repair a loss)
# ask for a keyframe; one lost packet usually reaches many viewers, and one keyframe serves them all.
PICTURE_LOSS_INTERVAL = 0.5


class Feed:
    def __init__(
        self,
        name: str,
        directory: Path,
        segment_seconds: float,
        on_segment: Callable[[Segment], None] | None = None,
        low_rendition: bool = False,
    ) -> None:
        """`low_rendition`: also a 360p rendition for weak networks (rendition.py), in `directory/360p`."""
        self.name = name
        self.directory = directory
        self.publisher: str | None = None
        self.viewers: set[Viewer] = set()
        self.keyframe_requester: Callable[[], Awaitable[None]] | None = None
        self.video_codec: str | None = None
        self.frames_in = 0
        self.keyframes_for_viewers = 0  # picture-loss requests passed on (at most one per interval)
        self._picture_loss_at = -PICTURE_LOSS_INTERVAL
        self._idr_wanted = False  # set on the loop, taken by the VP8 fallback in the writer thread
        self._segment_seconds = segment_seconds
        self._worker = SerialWorker(f"media-{name}")
        self._loop = asyncio.get_running_loop()
        # The live playlist and recent parts/segments, in memory on the loop for the HTTP side.
        self.edge = LiveEdge()
        self._writer = HlsWriter(  # resumes a recording
            directory,
            segment_seconds,
            on_segment,
            on_live=self._to_edge,
        )
        self._timeline = Timeline(resume_at=self._writer.end)
        self.ended = self._writer.finished
        self.low = LowRendition(name, directory / LOW_DIRECTORY, segment_seconds) if low_rendition else None
        self._pictures = False  # the source hands the low rendition its decoded pictures (`picture`)
        self._aac = OpusToAac()
        self._set_audio_config(self._aac.extradata)
        self._vp8: Vp8ToH264 | None = None
        self.clock = NtpClock()
        self._h264 = H264Packetizer()
        # Sender reports map RTP timestamps onto NTP through the recording clock (timeline
        # seconds + this offset), not the send time: audio and video leave aiortc's jitter
        # buffers at different delays, and the timeline is where that is compensated.
        self._ntp_offset: float | None = None

    def _to_edge(self, update: LiveUpdate) -> None:  # writer thread
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.edge.apply, update)

    def _set_audio_config(self, extradata: bytes | None) -> None:
        self._writer.set_audio_config(extradata)
        if self.low is not None:
            self.low.set_audio_config(extradata)

    def set_audio_tap(self, tap: PcmTap | None) -> None:
        """Every decoded audio frame of this feed, with its recording time, to `tap` (writer thread)."""
        self._worker.submit(setattr, self._aac, "pcm_tap", tap)

    def expect_audio(self, present: bool) -> None:
        """Whether the publisher sends audio; segments started from now on declare an audio stream only then."""
        self._set_audio_config(self._aac.extradata if present else None)

    @property
    def segments(self) -> list[Segment]:
        return list(self._writer.segments)

    # -- publisher -------------------------------------------------------------------------

    def claim(self, session_id: str, shared_clock: bool = False, pictures: bool = False) -> None:
        """`shared_clock`: the source stamps audio and video on one clock from 0 (the compositor);
        `pictures`: it also hands over its pictures (`picture`), so the low rendition decodes nothing."""
        if self.ended:
            raise conflict("stream_ended", "this event's stream has ended")
        if self.publisher is not None:
            raise conflict("already_publishing", "another publisher holds this source")
        self.publisher = session_id
        self._pictures = pictures
        self._timeline.new_session(shared_clock)
        self.video_codec = None

    def release(self, session_id: str) -> None:
        if self.publisher != session_id:
            return
        self.publisher = None
        self.keyframe_requester = None
        self._pictures = False
        self._worker.submit(self._writer.discontinuity)
        self._worker.submit(self._aac.new_session)
        if self.low is not None:
            self.low.discontinuity()

    def on_frame(self, codec: str, data: bytes, rtp_timestamp: int) -> None:
        """Called on the event loop for every complete encoded frame of the publisher."""
        self.frames_in += 1
        if codec == "H264":
            seconds = self._timeline.at("video", rtp_timestamp, VIDEO_CLOCK, VIDEO_BUFFERED_SECONDS)
            keyframe = h264_is_keyframe(data)
            if keyframe:
                data = h264_tidy_access_unit(data)  # only keyframes carry parameter sets
            self.video_codec = codec
            # A keyframe may start a segment: note when it was captured (it waited in the jitter
            # buffer), so moments of the event map onto the recording (EXT-X-PROGRAM-DATE-TIME).
            wall = time.time() - VIDEO_BUFFERED_SECONDS if keyframe else None
            self._worker.submit(self._writer.write_video, data, seconds, keyframe, wall)
            if self.low is not None and not self._pictures:
                self.low.video(data, seconds, keyframe, wall)
            if self.viewers:
                self._forward("video", self._h264.payloads(data), seconds, VIDEO_CLOCK, keyframe)
        elif codec == "VP8":
            seconds = self._timeline.at("video", rtp_timestamp, VIDEO_CLOCK, VIDEO_BUFFERED_SECONDS)
            self.video_codec = codec
            if vp8_is_keyframe(data) or self._vp8 is not None:
                self._worker.submit(self._transcode_vp8, data, seconds)
        elif codec == "opus":
            seconds = self._timeline.at("audio", rtp_timestamp, AUDIO_CLOCK, AUDIO_BUFFERED_SECONDS)
            self._worker.submit(self._transcode_opus, data, seconds)
            if self.viewers:
                self._forward("audio", [data], seconds, AUDIO_CLOCK, True)

    def picture(self, frame: av.VideoFrame, rtp_timestamp: int, keyframe: bool) -> None:
        """On the loop, after the H.264 frame made from it (`on_frame`): the source's own picture, for the
        low rendition (the compositor's canvas)."""
        if self.low is None or not self._pictures:
            return
        seconds = self._timeline.at("video", rtp_timestamp, VIDEO_CLOCK, VIDEO_BUFFERED_SECONDS)
        self.low.picture(frame, seconds, keyframe, time.time() - VIDEO_BUFFERED_SECONDS if keyframe else None)

    def _transcode_vp8(self, data: bytes, seconds: float) -> None:  # writer thread
        if self._vp8 is None:
            self._vp8 = Vp8ToH264(self._segment_seconds)
            if self.low is not None:
                low = self.low  # the fallback decodes VP8 anyway: its pictures, not a second decode
                # At the time the writer gets for the H.264 made of it (pts / 90 kHz), to cut where it cuts.
                self._vp8.picture_tap = lambda frame, when, key: self._loop.call_soon_threadsafe(
                    low.picture, frame, round(when * 90_000) / 90_000, key
                )
        force, self._idr_wanted = self._idr_wanted, False
        out = self._vp8.encode(data, seconds, force)
        for packet, when, keyframe in out:
            self._writer.write_video(packet, when, keyframe)
        if out and self.viewers:
            self._loop.call_soon_threadsafe(self._forward_video, out)

    def _forward_video(self, out: list[tuple[bytes, float, bool]]) -> None:
        for packet, when, keyframe in out:
            if self.viewers:
                self._forward("video", self._h264.payloads(packet), when, VIDEO_CLOCK, keyframe)

    def _forward(self, kind: str, payloads: list[bytes], seconds: float, clock_rate: int, keyframe: bool) -> None:
        """One frame to every viewer, now: the payloads are shared, each stream adds its headers."""
        if self._ntp_offset is None:
            self._ntp_offset = self.clock.seconds() - seconds
        ntp = ntp_from_seconds(self._ntp_offset + seconds)
        frame = OutgoingFrame(payloads, round(seconds * clock_rate), keyframe, ntp, sum(map(len, payloads)))
        for viewer in self.viewers:
            viewer.send(kind, frame)

    def _transcode_opus(self, data: bytes, seconds: float) -> None:  # writer thread
        for packet, when in self._aac.encode(data, seconds):
            self._writer.write_audio(packet, when)
            if self.low is not None:
                self.low.audio(packet, when)

    async def request_keyframe(self) -> None:
        """A keyframe as soon as possible, from whoever encodes the video viewers get."""
        if self._vp8 is not None and self.video_codec == "VP8":
            self._idr_wanted = True  # our x264 encodes every frame: no round trip to the publisher
            return
        requester = self.keyframe_requester
        if requester is not None:
            await requester()

    def picture_loss_due(self) -> bool:
        """A viewer lost the picture: whether to pass it on now (not within the interval of the last)."""
        now = time.monotonic()
        if now - self._picture_loss_at < PICTURE_LOSS_INTERVAL:
            return False
        self._picture_loss_at = now
        self.keyframes_for_viewers += 1
        return True

    # -- lifecycle -------------------------------------------------------------------------

    async def finish(self, remux: bool = True) -> Path | None:
        """The event ended: archive playlist (+ MP4 unless `remux` is False). Idempotent."""
        self.ended = True
        for viewer in list(self.viewers):
            viewer.stop()
        try:
            return await self._worker.call(self._writer.finish, remux)  # type: ignore[no-any-return]
        finally:
            await self._worker.stop()
            self.edge.release()  # what is still asked after the end is answered from memory
            if self.low is not None:
                await self.low.finish()

    async def close(self) -> None:
        """Shutdown without ending the event: flush the open segment, keep the recording open."""
        for viewer in list(self.viewers):
            viewer.stop()
        self._worker.submit(self._writer.discontinuity)
        await self._worker.stop()
        self.edge.release()
        if self.low is not None:
            await self.low.close()
