"""The low rendition (360p, ~500 kb/s) for viewers on weak networks, encoded once per event by the server.

Why the server and not the publisher (simulcast, or a second WHIP layer): the expert is often on a
site's 4G link, where a second layer costs uplink the main picture needs; aiortc receives no simulcast;
and when the stage composes, only the server has the programme's picture at all. So this is the one
extra encode: from pictures already decoded when there are some (the compositor's canvas, the VP8
fallback's frames), else one decode of the forwarded H.264 (without the deblocking filter: at a
quarter of the pixels its smoothing is not seen, and decoding costs half) — scaled once, x264 once.

Everything runs in the rendition's own thread (`SerialWorker`), never on the event loop and never in
the main rendition's writer thread, so the full-quality playlist's latency does not depend on it. Its
keyframes are forced where the main rendition's are, so both cut segments (and parts) at the same
moments with the same timestamps and numbers: players switch between them at any segment. Audio is
the main rendition's AAC, muxed as is (held until the video has caught up with it: the video here
comes a decode and an encode later). Segments, parts and the playlist are the writer's (hls.py), in the
feed directory's `360p/`, removed when the event ends: the archive keeps only the full-quality rendition.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections import deque
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
from av.video.reformatter import Interpolation, VideoReformatter

from .hls import HlsWriter, LiveUpdate
from .live import LiveEdge
from .playlist import Variant
from .worker import SerialWorker

logger = logging.getLogger(__name__)

LOW_DIRECTORY = "360p"
LOW_SHORT_SIDE = 360
# ~500 kb/s with the 96 kb/s AAC: x264's VBV caps each second near the rate, so a segment's peak (the
# multivariant playlist's BANDWIDTH) stays close to the average.
LOW_VIDEO_BITRATE = 400_000
LOW_VBV_KBITS = 450
# x264 ultrafast with its deblocking filter back on (which ultrafast drops; at 400 kb/s its blocks show):
# 0.05-0.06 CPU-s per stream-second forwarding, against 0.07-0.09 for superfast (bench/renditions.py).
LOW_PRESET = "ultrafast"
LOW_X264_EXTRA = "deblock=0,0"
# Until the first segment is measured, the multivariant playlist announces these (bits/s, TS included).
LOW_NOMINAL_BANDWIDTH = 600_000
X264_MAX_KEYINT_FRAMES = 600  # a backstop: keyframes follow the main rendition's
# Frames waiting for this thread beyond this many (an overloaded machine): the rendition skips to the
# source's next keyframe rather than fall further behind.
MAX_BACKLOG_FRAMES = 45
# Audio held for the video is dropped beyond this (a source without pictures for a while).
MAX_HELD_AUDIO_SECONDS = 2.0


def low_size(width: int, height: int) -> tuple[int, int]:
    """The short side at LOW_SHORT_SIDE (never upscaled), the long side to keep the shape; even numbers."""
    short, long_ = min(width, height), max(width, height)
    if short <= LOW_SHORT_SIDE:
        scaled_short, scaled_long = short, long_
    else:
        scaled_short, scaled_long = LOW_SHORT_SIDE, long_ * LOW_SHORT_SIDE / short
    a, b = (scaled_long, scaled_short) if width >= height else (scaled_short, scaled_long)
    return max(2, round(a / 2) * 2), max(2, round(b / 2) * 2)


class LowRendition:
    """Made on the event loop with the feed; fed from the loop (`video`, `picture`) and from the feed's
    writer thread (`audio`); `edge` serves it like the main rendition's."""

    def __init__(self, name: str, directory: Path, segment_seconds: float) -> None:
        self.directory = directory
        self._loop = asyncio.get_running_loop()
        self._worker = SerialWorker(f"media-{name}-{LOW_DIRECTORY}")
        self.edge = LiveEdge()
        self._writer = HlsWriter(directory, segment_seconds, on_live=self._to_edge)
        self._decoder: av.VideoCodecContext | None = None
        self._encoder: av.VideoCodecContext | None = None
        self._scaler = VideoReformatter()
        self._audio: deque[tuple[bytes, float]] = deque()
        self._seconds: dict[int, float] = {}  # pts → the main rendition's time of that frame, until encoded
        self._last_video = -1.0
        # Frames submitted (counted on the loop) and handled (in the thread): one writer each, so no update is
        # lost between threads; their difference is the backlog.
        self._submitted = 0
        self._handled = 0
        self._skipping = False
        self.size: tuple[int, int] | None = None  # what is encoded now (RESOLUTION)
        self.source_size: tuple[int, int] | None = None  # the main rendition's pictures
        self.frames_out = 0
        self.skipped = 0

    def _to_edge(self, update: LiveUpdate) -> None:  # rendition thread
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.edge.apply, update)

    # -- from the event loop ---------------------------------------------------------------

    def video(self, data: bytes, seconds: float, keyframe: bool, wall: float | None) -> None:
        """A forwarded H.264 access unit, stamped as the main rendition has it."""
        if self._admit(keyframe):
            self._worker.submit(self._decode, data, seconds, keyframe, wall)

    def picture(self, frame: av.VideoFrame, seconds: float, keyframe: bool, wall: float | None = None) -> None:
        """A picture someone decoded or composed anyway (the compositor, the VP8 fallback): no decode here."""
        if self._admit(keyframe):
            self._worker.submit(self._encode_counted, frame, seconds, keyframe, wall)

    def _admit(self, keyframe: bool) -> bool:
        if self.backlog > MAX_BACKLOG_FRAMES and not keyframe:
            self._skipping = True
        if self._skipping and not keyframe:
            self.skipped += 1
            return False
        self._skipping = False
        self._submitted += 1
        return True

    @property
    def backlog(self) -> int:
        return self._submitted - self._handled

    def discontinuity(self) -> None:
        self._worker.submit(self._discontinuity)

    async def finish(self) -> None:
        """The event ended: the 360p files go (the archive keeps the full-quality rendition only; DVR is over)."""
        try:
            await self._worker.call(self._writer.finish, False)
        finally:
            await self._worker.stop()
            self.edge.release()
            await asyncio.to_thread(shutil.rmtree, self.directory, True)

    async def close(self) -> None:
        self._worker.submit(self._discontinuity)
        await self._worker.stop()
        self.edge.release()

    # -- from the main rendition's writer thread ------------------------------------------------

    def set_audio_config(self, extradata: bytes | None) -> None:
        self._worker.submit(self._writer.set_audio_config, extradata)

    def audio(self, data: bytes, seconds: float) -> None:
        self._worker.submit(self._hold_audio, data, seconds)

    # -- the rendition's thread --------------------------------------------------------------

    def _discontinuity(self) -> None:
        self._audio.clear()
        self._seconds.clear()
        self._decoder = None  # the next source starts at a keyframe, maybe with other parameters
        self._writer.discontinuity()

    def _decode(self, data: bytes, seconds: float, keyframe: bool, wall: float | None) -> None:
        self._handled += 1
        if self._decoder is None:
            if not keyframe:
                return
            decoder = av.CodecContext.create("h264", "r")
            decoder.thread_count = 1  # frame threads would add a frame of delay each
            decoder.options = {"skip_loop_filter": "all"}
            self._decoder = decoder
        try:
            frames = self._decoder.decode(av.Packet(data))
        except av.FFmpegError:
            return  # a damaged frame: the next keyframe repairs it, as for every player
        for frame in frames:
            self._encode(frame, seconds, keyframe, wall)

    def _encode_counted(self, frame: av.VideoFrame, seconds: float, keyframe: bool, wall: float | None) -> None:
        self._handled += 1
        self._encode(frame, seconds, keyframe, wall)

    def _encode(self, frame: av.VideoFrame, seconds: float, keyframe: bool, wall: float | None) -> None:
        if seconds <= self._last_video:
            return
        self.source_size = (frame.width, frame.height)
        width, height = low_size(frame.width, frame.height)
        encoder = self._encoder
        if encoder is None or (encoder.width, encoder.height) != (width, height):
            if not keyframe:
                return  # a new size starts at the source's keyframe, where a segment may start
            encoder = self._encoder = _x264(width, height)
            self.size = (width, height)
        scaled = self._scaler.reformat(
            frame, width=width, height=height, format="yuv420p", interpolation=Interpolation.FAST_BILINEAR
        )
        scaled.pts = round(seconds * 90_000)
        scaled.time_base = Fraction(1, 90_000)
        # The main rendition's keyframes, and only those: both renditions cut segments at the same frames.
        scaled.pict_type = av.video.frame.PictureType.I if keyframe else av.video.frame.PictureType.NONE
        self._seconds[scaled.pts] = seconds
        for packet in encoder.encode(scaled):
            # Exactly the main rendition's float, not pts / 90 kHz: the writer cuts a segment at a keyframe
            # once it is `segment_seconds` (less a tolerance) long, and a rounding either side of that line
            # would cut one rendition and not the other.
            when = self._seconds.pop(packet.pts, packet.pts / 90_000)
            self._last_video = when
            self._writer.write_video(bytes(packet), when, packet.is_keyframe, wall if packet.is_keyframe else None)
            self.frames_out += 1
        self._release_audio()

    def _hold_audio(self, data: bytes, seconds: float) -> None:
        self._audio.append((data, seconds))
        while self._audio and self._audio[-1][1] - self._audio[0][1] > MAX_HELD_AUDIO_SECONDS:
            self._audio.popleft()
        self._release_audio()

    def _release_audio(self) -> None:
        # As in the main rendition, audio goes in once the video has reached it (a frame's worth ahead).
        while self._audio and self._audio[0][1] <= self._last_video + 1 / 30:
            data, seconds = self._audio.popleft()
            self._writer.write_audio(data, seconds)


def _x264(width: int, height: int) -> av.VideoCodecContext:
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height = width, height
    enc.pix_fmt = "yuv420p"
    enc.time_base = Fraction(1, 90_000)
    enc.bit_rate = LOW_VIDEO_BITRATE
    enc.framerate = Fraction(30)  # nominal: else x264 derives the level from the 90 kHz time base (6.2)
    # As the other encoders here (transcode.py, compose.py): no B-frames, no lookahead, one thread;
    # keyframes exactly where forced.
    enc.options = {
        "preset": LOW_PRESET,
        "tune": "zerolatency",
        "profile": "baseline",
        "level": "3.0",  # 640x360 at 30 fps: what every phone decodes (CODECS avc1.42c01e)
        "forced-idr": "1",
        "x264-params": (
            f"keyint={X264_MAX_KEYINT_FRAMES}:scenecut=0:repeat-headers=1:threads=1"
            f":vbv-maxrate={LOW_VBV_KBITS}:vbv-bufsize={LOW_VBV_KBITS}"
            + (f":{LOW_X264_EXTRA}" if LOW_X264_EXTRA else "")
        ),
    }
    enc.open()
    return enc


# The feed hands `LowRendition.picture` to whoever has decoded pictures (compose.py, transcode.py).
PictureSink = Callable[[av.VideoFrame, float, bool], None]


MAIN_NOMINAL_BANDWIDTH = 3_000_000  # 720p at ~2.5 Mb/s and AAC, until a segment is measured
NOMINAL_CODECS = "avc1.42e01f,mp4a.40.2"  # constrained baseline 3.1 (browsers' WebRTC H.264), AAC-LC


def variants(main: LiveEdge | None, low: LowRendition | None, low_on_disk: bool) -> list[Variant]:
    """The renditions of a programme for its multivariant playlist: measured once segments exist."""
    source = low.source_size if low is not None else None
    found = [
        Variant(
            "index.m3u8",
            (main.bandwidth if main is not None else 0) or MAIN_NOMINAL_BANDWIDTH,
            (main.average_bandwidth if main is not None else 0) or MAIN_NOMINAL_BANDWIDTH,
            (main.codecs if main is not None else "") or NOMINAL_CODECS,
            source,
        )
    ]
    if (low is not None and low.edge.playlist is not None) or (low is None and low_on_disk):
        edge = low.edge if low is not None else None
        size = low.size if low is not None and low.size else low_size(*(source or (1280, 720)))
        found.append(
            Variant(
                f"{LOW_DIRECTORY}/index.m3u8",
                (edge.bandwidth if edge is not None else 0) or LOW_NOMINAL_BANDWIDTH,
                (edge.average_bandwidth if edge is not None else 0) or LOW_NOMINAL_BANDWIDTH,
                (edge.codecs if edge is not None else "") or NOMINAL_CODECS,
                size,
            )
        )
    return found
