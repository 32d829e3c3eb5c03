"""The only encoders in the media path: Opus → AAC always, VP8 → H.264 only as a fallback.

Both run in the feed's writer thread (never on the event loop) and encode exactly once:
their output feeds the HLS writer and, for video, every WHEP viewer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from fractions import Fraction

import av
from av.audio.fifo import AudioFifo

logger = logging.getLogger(__name__)

# Receives every decoded audio frame of the programme with its recording-clock time (seconds), in
# the feed's writer thread: it must be quick (the live captions resample and queue it, see
# server/captions/tap.py). The audio is decoded here anyway, for AAC.
PcmTap = Callable[[av.AudioFrame, float], None]

OPUS_SAMPLE_RATE = 48_000
AAC_FRAME_SAMPLES = 1024
AAC_BITRATE = 96_000
# A gap in the Opus stream longer than this (packet loss, a paused track) restarts the AAC
# timeline at the next packet instead of letting audio slide against video.
AUDIO_GAP_SECONDS = 0.1
H264_FALLBACK_BITRATE = 2_000_000
# x264's own keyframe interval is only a backstop: keyframes are forced at segment boundaries.
X264_MAX_KEYINT_FRAMES = 600


class OpusToAac:
    """Decodes Opus packets and encodes AAC-LC 48 kHz stereo with the input's timing."""

    def __init__(self) -> None:
        self._decoder = av.CodecContext.create("opus", "r")
        self._resampler = av.AudioResampler(format="fltp", layout="stereo", rate=OPUS_SAMPLE_RATE)
        self._encoder = av.CodecContext.create("aac", "w")
        self._encoder.sample_rate = OPUS_SAMPLE_RATE
        self._encoder.layout = "stereo"
        self._encoder.format = "fltp"
        self._encoder.bit_rate = AAC_BITRATE
        self._encoder.time_base = Fraction(1, OPUS_SAMPLE_RATE)
        self._encoder.open()
        self._fifo = AudioFifo()
        self._fifo_start: int | None = None  # sample clock of the fifo's first sample
        self.pcm_tap: PcmTap | None = None

    @property
    def extradata(self) -> bytes:
        return bytes(self._encoder.extradata or b"")

    def new_session(self) -> None:
        """Another source's audio follows (a switch of the programme): its first packet sets the clock,
        however close it comes to where the last source's audio ended. Carrying on from there instead
        put the next source's audio up to AUDIO_GAP_SECONDS early for good (-60 to -100 ms composed)."""
        self._fifo_start = None

    def encode(self, opus: bytes, seconds: float) -> list[tuple[bytes, float]]:
        """AAC packets (raw, no ADTS) with their recording times in seconds."""
        packet = av.Packet(opus)
        try:
            frames = self._decoder.decode(packet)
        except av.FFmpegError:
            return []  # one damaged packet: skip 20 ms rather than stop the audio
        start = round(seconds * OPUS_SAMPLE_RATE)
        expected = None if self._fifo_start is None else self._fifo_start + self._fifo.samples
        if expected is None or abs(start - expected) > AUDIO_GAP_SECONDS * OPUS_SAMPLE_RATE:
            self._fifo = AudioFifo()
            self._fifo_start = start
        out: list[tuple[bytes, float]] = []
        if self.pcm_tap is not None:
            self._tap(frames, seconds)
        for frame in frames:
            for resampled in self._resampler.resample(frame):
                resampled.pts = None  # the fifo checks continuity; we keep the clock ourselves
                self._fifo.write(resampled)
        while self._fifo.samples >= AAC_FRAME_SAMPLES:
            assert self._fifo_start is not None
            chunk = self._fifo.read(AAC_FRAME_SAMPLES)
            chunk.pts = self._fifo_start
            chunk.time_base = self._encoder.time_base
            self._fifo_start += AAC_FRAME_SAMPLES
            for encoded in self._encoder.encode(chunk):
                out.append((bytes(encoded), encoded.pts / OPUS_SAMPLE_RATE))
        return out

    def _tap(self, frames: list[av.AudioFrame], seconds: float) -> None:
        assert self.pcm_tap is not None
        for frame in frames:
            try:
                self.pcm_tap(frame, seconds)
            except Exception:  # captions failing must never stop the recording
                logger.exception("audio tap failed; it is removed")
                self.pcm_tap = None
                return
            seconds += frame.samples / (frame.sample_rate or OPUS_SAMPLE_RATE)


class Vp8ToH264:
    """Decodes VP8 and encodes H.264 once, with a keyframe at every segment boundary."""

    def __init__(self, segment_seconds: float) -> None:
        self._decoder = av.CodecContext.create("vp8", "r")
        self._encoder: av.VideoCodecContext | None = None
        self._segment_seconds = segment_seconds
        self._next_keyframe_at: float | None = None
        # Each decoded picture (recording seconds, forced keyframe), for the low rendition: no second decode.
        self.picture_tap: Callable[[av.VideoFrame, float, bool], None] | None = None

    def encode(self, vp8: bytes, seconds: float, keyframe: bool = False) -> list[tuple[bytes, float, bool]]:
        """H.264 packets with recording times; `keyframe` forces an IDR now (a WHEP viewer needs one)."""
        try:
            frames = self._decoder.decode(av.Packet(vp8))
        except av.FFmpegError:
            return []
        out: list[tuple[bytes, float, bool]] = []
        for frame in frames:
            encoder = self._encoder_for(frame)
            boundary = self._next_keyframe_at is None or seconds >= self._next_keyframe_at
            if boundary:
                self._next_keyframe_at = seconds + self._segment_seconds
            force = boundary or keyframe
            frame = frame.reformat(format="yuv420p")
            if self.picture_tap is not None:
                self.picture_tap(frame, seconds, force)
            frame.pts = round(seconds * 90_000)
            frame.time_base = Fraction(1, 90_000)
            frame.pict_type = av.video.frame.PictureType.I if force else av.video.frame.PictureType.NONE
            for packet in encoder.encode(frame):
                out.append((bytes(packet), packet.pts / 90_000, packet.is_keyframe))
        return out

    def _encoder_for(self, frame: av.VideoFrame) -> av.VideoCodecContext:
        enc = self._encoder
        if enc is None or enc.width != frame.width or enc.height != frame.height:
            enc = av.CodecContext.create("libx264", "w")
            enc.width, enc.height = frame.width, frame.height
            enc.pix_fmt = "yuv420p"
            enc.time_base = Fraction(1, 90_000)
            enc.bit_rate = H264_FALLBACK_BITRATE
            # No B-frames and no lookahead: WebRTC viewers and low latency need output
            # in decode order immediately; GOP boundaries come from forced keyframes.
            # superfast on one thread: this fallback (VP8-only publishers) must stay within 0.30 CPU-s
            # per stream-second at 720p30; x264's frame threads cost more in sync on 2 cores than they
            # save, and veryfast measured 0.31-0.33 against superfast's 0.28 (bench/README.md).
            enc.options = {
                "preset": "superfast",
                "tune": "zerolatency",
                "profile": "baseline",
                "forced-idr": "1",
                "x264-params": f"keyint={X264_MAX_KEYINT_FRAMES}:scenecut=0:repeat-headers=1:threads=1",
            }
            enc.open()
            self._encoder = enc
            self._next_keyframe_at = None
        return enc
