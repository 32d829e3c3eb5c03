"""The programme composed once: the on-air members decoded once each, laid out, their voices mixed, and
the result encoded once (x264 + Opus) for the event's programme feed (HLS, archive, WHEP).

Everything heavy runs in the compositor's own thread; the event loop only queues encoded packets in
(`push`) and receives encoded packets out (`emit`, called on the loop). Output is stamped on one clock
from 0 for audio and video (the programme feed's timeline takes it as is), paced by the monotonic clock.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from .bitstream import h264_is_keyframe, vp8_is_keyframe
from .feed import AUDIO_BUFFERED_SECONDS, AUDIO_CLOCK, VIDEO_BUFFERED_SECONDS, VIDEO_CLOCK
from .layout import HEIGHT, WIDTH, Rect, fit, rectangles
from .stage import Layout

logger = logging.getLogger(__name__)

FPS = 30
AUDIO_RATE = AUDIO_CLOCK
CHUNK_SAMPLES = 960  # 20 ms, one Opus frame
# x264 preset of the programme: measured by bench/stage.py on 2 cores at 720p30 (bench/README.md).
X264_PRESET = "superfast"
PROGRAMME_BITRATE = 2_500_000
OPUS_BITRATE = 64_000
X264_MAX_KEYINT_FRAMES = 600  # a backstop: keyframes are forced every segment and on request
# Every member's pictures and voice are played out at their capture time plus this delay, so that each
# member's audio and video stay together (aiortc holds audio ~50 ms longer than video in its jitter
# buffers, and packets reach this thread in bursts): long enough for that and the jitter, short beside
# the HLS latency. Capture time: each track's RTP clock, anchored at its first packet's arrival less
# the receiver's known buffering (as server/media/timeline.py does for a forwarded publisher).
PLAYOUT_DELAY_SECONDS = 0.15
# A track's anchor follows its earliest-arriving packets (the least delayed show the true offset;
# late ones are jitter, played late or dropped), unless its packets come this much later for good (a
# stall, a clock running slow): then it is anchored again.
REANCHOR_LATE_SECONDS = 1.0
# Decoded pictures kept per member waiting for their playout time.
MAX_WAITING_PICTURES = 12
# Composition starts once every on-air camera has a picture, or after this long (a late camera shows
# as a dark tile until its first keyframe).
START_WAIT_SECONDS = 1.0
# A tile this small (a quarter of the programme or less) is decoded without H.264's deblocking filter:
# half the decode cost (2.5 → 1.3 ms per 720p frame here), and at that scale the blocks it would smooth
# are not seen; the drift it causes ends at each keyframe (one a segment).
SMALL_TILE_AREA = WIDTH * HEIGHT // 4
# Behind by more than this many frames (the machine is overloaded), skip frames instead of bursting.
MAX_LATE_FRAMES = 3
BACKGROUND = (24, 128, 128)  # Y, U, V: near black
AUDIO_ONLY_TILE = (48, 128, 128)
LABEL_FONT = "Noto Sans CJK SC"  # Debian fonts-noto-cjk: Chinese and Latin names alike

Emit = Callable[[str, bytes, int], None]
"""(codec "H264" or "opus", encoded frame, RTP timestamp on the programme clock) — called on the loop."""


@dataclass(frozen=True)
class Tile:
    """An on-air member in layout order. `label`: the lower-third ("" for none)."""

    member_id: str
    label: str = ""
    muted: bool = False
    video: bool = True


class _Input:
    """One member's decoders, its latest picture and its buffered voice (compositor thread only)."""

    def __init__(self) -> None:
        self.video_codec: str | None = None
        self.video_decoder: av.CodecContext | None = None
        self.keyed = False
        self.small = False  # decode without the deblocking filter (see SMALL_TILE_AREA)
        self.decoder_small = False
        self.scaler = VideoReformatter()  # keeps its scaling context between frames of one size
        self.picture: av.VideoFrame | None = None  # on screen now
        self.generation = 0
        self.waiting: deque[tuple[float, av.VideoFrame]] = deque()  # (capture time, picture)
        self.audio_decoder = av.CodecContext.create("opus", "r")
        self.resampler = av.AudioResampler(format="s16", layout="mono", rate=AUDIO_RATE)
        self.voice: deque[tuple[float, np.ndarray]] = deque()  # (capture time, 20 ms of samples)

    def decode_video(self, codec: str, data: bytes, captured: float) -> None:
        keyframe = h264_is_keyframe(data) if codec == "H264" else vp8_is_keyframe(data)
        stale = self.decoder_small != self.small and keyframe  # the tile changed size: switch at a keyframe
        if self.video_decoder is None or self.video_codec != codec or stale:
            decoder = av.CodecContext.create("h264" if codec == "H264" else "vp8", "r")
            decoder.thread_count = 1  # frame threads would add a frame of delay per thread
            if self.small and codec == "H264":
                decoder.options = {"skip_loop_filter": "all"}
            self.video_decoder, self.decoder_small = decoder, self.small
            self.video_codec, self.keyed = codec, False
        if not self.keyed:
            # Until the first keyframe there is nothing decodable: skip rather than show garbage.
            if not keyframe:
                return
            self.keyed = True
        try:
            frames = self.video_decoder.decode(av.Packet(data))
        except av.FFmpegError:
            return
        for frame in frames:
            self.waiting.append((captured, frame))
        while len(self.waiting) > MAX_WAITING_PICTURES:
            self.waiting.popleft()

    def show(self, due: float) -> None:
        """The latest picture captured by `due` goes on screen (the first one at once, to start)."""
        chosen = None
        while self.waiting and (self.waiting[0][0] <= due or (self.picture is None and chosen is None)):
            chosen = self.waiting.popleft()[1]
        if chosen is not None:
            self.picture = chosen
            self.generation += 1

    def decode_audio(self, data: bytes, captured: float) -> None:
        try:
            frames = self.audio_decoder.decode(av.Packet(data))
        except av.FFmpegError:
            return
        parts = [out.to_ndarray().reshape(-1) for frame in frames for out in self.resampler.resample(frame)]
        if not parts:
            return
        pcm = np.concatenate(parts)
        for i in range(0, len(pcm), CHUNK_SAMPLES):  # browsers send 20 ms; longer packets are split
            self.voice.append((captured + i / AUDIO_RATE, pcm[i : i + CHUNK_SAMPLES]))

    def take(self, due: float) -> np.ndarray:
        """The 20 ms captured at `due`, or nothing yet (a gap). A chunk that comes late is still played
        (a voice whose capture clock lags, e.g. a starved browser, is heard late rather than not at all);
        only when a later chunk is due too is the older one dropped, to catch up."""
        half = CHUNK_SAMPLES / AUDIO_RATE / 2
        while len(self.voice) > 1 and self.voice[1][0] <= due + half:
            self.voice.popleft()
        if self.voice and self.voice[0][0] <= due + half:
            return self.voice.popleft()[1]
        return np.zeros(0, dtype=np.int16)


class Compositor:
    """One per event while several members are on air. `session_id` is what the programme feed holds."""

    def __init__(self, session_id: str, segment_seconds: float, emit: Emit, preset: str = X264_PRESET) -> None:
        self.session_id = session_id
        self._segment_seconds = segment_seconds
        self._emit = emit
        self._preset = preset
        self._loop = asyncio.get_running_loop()
        self._queue: queue.SimpleQueue[tuple[str, tuple[object, ...]]] = queue.SimpleQueue()
        self._inputs: dict[str, _Input] = {}
        self._tiles: list[Tile] = []
        self._layout = Layout.SPEAKER
        self._drawn: dict[str, tuple[int, Rect]] = {}  # member → (picture generation, rect) on the canvas
        self._labels: dict[tuple[str, int, int], np.ndarray | None] = {}
        self._canvas = np.empty((HEIGHT * 3 // 2, WIDTH), dtype=np.uint8)
        self._clear()
        self._encoder: av.CodecContext | None = None
        self._opus: av.CodecContext | None = None
        self._keyframe_wanted = False
        self._anchors: dict[tuple[str, bool], tuple[int, float]] = {}  # loop side: (member, audio) → (RTP, time)
        self.frames_out = 0
        # Each composed picture (compositor thread; with its RTP timestamp and whether it was made a
        # keyframe), for the low rendition to scale and encode: the canvas is never decoded again.
        self.on_picture: Callable[[av.VideoFrame, int, bool], None] | None = None
        self.started_at: float | None = None  # time.monotonic() of the programme's first composed frame
        self._thread = threading.Thread(target=self._run, name=f"compose-{session_id[:8]}", daemon=True)
        self._thread.start()

    # -- from the event loop ---------------------------------------------------------------

    def push(self, member_id: str, codec: str, data: bytes, rtp_timestamp: int) -> None:
        """A member's encoded frame, stamped here (on the loop, at arrival) with when it was captured."""
        now = time.monotonic()
        audio = codec == "opus"
        clock, buffered = (AUDIO_CLOCK, AUDIO_BUFFERED_SECONDS) if audio else (VIDEO_CLOCK, VIDEO_BUFFERED_SECONDS)
        key = (member_id, audio)
        anchor = self._anchors.get(key)
        captured = 0.0 if anchor is None else anchor[1] + (rtp_timestamp - anchor[0]) / clock
        arrived = now - buffered
        if anchor is None or arrived < captured or arrived - captured > REANCHOR_LATE_SECONDS:
            captured = arrived
            self._anchors[key] = (rtp_timestamp, captured)
        self._queue.put(("frame", (member_id, codec, data, captured)))

    def set_tiles(self, layout: Layout, tiles: list[Tile]) -> None:
        self._queue.put(("tiles", (layout, list(tiles))))

    async def request_keyframe(self) -> None:
        self._keyframe_wanted = True  # our x264 encodes every frame: no round trip to anyone

    async def stop(self) -> None:
        self._queue.put(("stop", ()))
        await asyncio.to_thread(self._thread.join)

    # -- the compositor thread ---------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop_forever()
        except Exception:
            logger.exception("compositor %s failed", self.session_id)

    def _loop_forever(self) -> None:
        created = time.monotonic()
        start: float | None = None
        video_n = audio_n = 0
        next_keyframe = 0.0
        checked = created  # before the start: readiness is checked once a frame interval
        while True:
            now = time.monotonic()
            if start is None:
                deadline = checked + 1 / FPS
            else:
                deadline = min(start + video_n / FPS, start + audio_n * CHUNK_SAMPLES / AUDIO_RATE)
            try:
                item = self._queue.get(timeout=max(0.0, deadline - now))
            except queue.Empty:
                item = None
            if item is not None:
                # Everything queued first: when behind, output made before the queued packets are
                # decoded would leave voices out.
                while item is not None:
                    kind, args = item
                    if kind == "stop":
                        return
                    self._handle(kind, args)
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        item = None
                if time.monotonic() < deadline:
                    continue
            now = time.monotonic()
            if start is None:
                checked = now
                if not self._ready() and now - created < START_WAIT_SECONDS:
                    continue
                start = now
                self.started_at = now
            late = int((now - start) * FPS) - video_n
            if late > MAX_LATE_FRAMES:
                video_n += late  # overloaded: a gap in the programme instead of a burst
            while start + video_n / FPS <= now:
                seconds = video_n / FPS
                force = seconds >= next_keyframe or self._keyframe_wanted
                if force:
                    self._keyframe_wanted = False
                    next_keyframe = seconds + self._segment_seconds
                self._video(video_n, force, start + seconds - PLAYOUT_DELAY_SECONDS)
                video_n += 1
            while start + audio_n * CHUNK_SAMPLES / AUDIO_RATE <= now:
                self._audio(audio_n, start + audio_n * CHUNK_SAMPLES / AUDIO_RATE - PLAYOUT_DELAY_SECONDS)
                audio_n += 1

    def _handle(self, kind: str, args: tuple[object, ...]) -> None:
        if kind == "frame":
            member_id, codec, data, captured = args
            assert isinstance(member_id, str) and isinstance(codec, str) and isinstance(data, bytes)
            assert isinstance(captured, float)
            if member_id not in self._inputs:
                return  # not (or no longer) on air
            inp = self._inputs[member_id]
            if codec == "opus":
                inp.decode_audio(data, captured)
            else:
                inp.decode_video(codec, data, captured)
        elif kind == "label":
            key, alpha = args
            self._labels[key] = alpha  # type: ignore[index]
            self._drawn.clear()
        elif kind == "tiles":
            layout, tiles = args
            assert isinstance(layout, Layout) and isinstance(tiles, list)
            self._layout, self._tiles = layout, tiles
            wanted = {t.member_id for t in tiles}
            for gone in set(self._inputs) - wanted:
                del self._inputs[gone]
            self._drawn.clear()  # tiles moved: redraw everything on the next frame
            self._clear()
            for tile, rect in zip(tiles, rectangles(layout, len(tiles)), strict=True):
                self._inputs.setdefault(tile.member_id, _Input()).small = rect.w * rect.h <= SMALL_TILE_AREA

    def _ready(self) -> bool:
        return bool(self._tiles) and all(
            (inp := self._inputs.get(t.member_id)) is not None and (inp.picture is not None or inp.waiting)
            for t in self._tiles
            if t.video
        )

    # -- video -----------------------------------------------------------------------------------

    def _clear(self) -> None:
        y, u, v = self._planes()
        y[:], u[:], v[:] = BACKGROUND

    def _planes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = self._canvas
        quarter = HEIGHT // 4
        return (
            c[:HEIGHT],
            c[HEIGHT : HEIGHT + quarter].reshape(HEIGHT // 2, WIDTH // 2),
            c[HEIGHT + quarter :].reshape(HEIGHT // 2, WIDTH // 2),
        )

    def _video(self, n: int, keyframe: bool, due: float) -> None:
        """Programme frame `n`, showing what each member captured at `due`."""
        rects = rectangles(self._layout, len(self._tiles))
        for tile, rect in zip(self._tiles, rects, strict=True):
            inp = self._inputs.get(tile.member_id)
            if inp is not None:
                inp.show(due)
            generation = inp.generation if inp is not None and tile.video else -1
            if self._drawn.get(tile.member_id) == (generation, rect):
                continue  # nothing new from this member: its tile stays as drawn
            self._draw_tile(tile, rect, inp, inp.picture if inp is not None and tile.video else None)
            self._drawn[tile.member_id] = (generation, rect)
        frame = av.VideoFrame.from_ndarray(self._canvas, format="yuv420p")
        frame.pts = n * (VIDEO_CLOCK // FPS)
        frame.time_base = Fraction(1, VIDEO_CLOCK)
        frame.pict_type = av.video.frame.PictureType.I if keyframe else av.video.frame.PictureType.NONE
        for packet in self._video_encoder().encode(frame):
            self.frames_out += 1
            self._loop.call_soon_threadsafe(self._emit, "H264", bytes(packet), int(packet.pts))
        if self.on_picture is not None:
            self.on_picture(frame, int(frame.pts), keyframe)

    def _draw_tile(self, tile: Tile, rect: Rect, inp: _Input | None, picture: av.VideoFrame | None) -> None:
        y, u, v = self._planes()
        fill = BACKGROUND if picture is not None else AUDIO_ONLY_TILE
        y[rect.y : rect.y + rect.h, rect.x : rect.x + rect.w] = fill[0]
        cu = (slice(rect.y // 2, (rect.y + rect.h) // 2), slice(rect.x // 2, (rect.x + rect.w) // 2))
        u[cu], v[cu] = fill[1], fill[2]
        if picture is not None:
            box = fit(picture.width, picture.height, rect)
            assert inp is not None
            scaled = inp.scaler.reformat(
                picture, width=box.w, height=box.h, format="yuv420p", interpolation=Interpolation.FAST_BILINEAR
            )
            planes = scaled.to_ndarray()
            quarter = box.h // 4
            y[box.y : box.y + box.h, box.x : box.x + box.w] = planes[: box.h]
            cy, cx, ch, cw = box.y // 2, box.x // 2, box.h // 2, box.w // 2
            u[cy : cy + ch, cx : cx + cw] = planes[box.h : box.h + quarter].reshape(ch, cw)
            v[cy : cy + ch, cx : cx + cw] = planes[box.h + quarter :].reshape(ch, cw)
        if tile.label:
            self._draw_label(tile.label, rect)

    def _draw_label(self, text: str, rect: Rect) -> None:
        """A lower-third: a dark band across the tile's foot with the name in white."""
        height = max(24, rect.h // 7) // 2 * 2
        top = rect.y + rect.h - height
        y, u, v = self._planes()
        band = y[top : top + height, rect.x : rect.x + rect.w]
        band[:] = (band.astype(np.uint16) * 3 // 10 + 11).astype(np.uint8)
        cu = (slice(top // 2, (top + height) // 2), slice(rect.x // 2, (rect.x + rect.w) // 2))
        u[cu], v[cu] = 128, 128
        key = (text, rect.w, height)
        if key not in self._labels:
            # FFmpeg takes a while to start: draw the band now, the name when it is ready.
            self._labels[key] = None
            threading.Thread(target=self._render_label, args=(key,), daemon=True).start()
        alpha = self._labels[key]
        if alpha is not None:
            w = min(alpha.shape[1], rect.w)
            a = alpha[:, :w].astype(np.uint16)
            region = band[:, :w].astype(np.uint16)
            band[:, :w] = ((region * (255 - a) + 235 * a) // 255).astype(np.uint8)

    def _render_label(self, key: tuple[str, int, int]) -> None:  # a short-lived thread of its own
        text, width, height = key
        self._queue.put(("label", (key, render_text(text, width, height))))

    def _video_encoder(self) -> av.CodecContext:
        if self._encoder is None:
            enc = av.CodecContext.create("libx264", "w")
            enc.width, enc.height = WIDTH, HEIGHT
            enc.pix_fmt = "yuv420p"
            enc.time_base = Fraction(1, VIDEO_CLOCK)
            enc.framerate = Fraction(FPS)
            enc.bit_rate = PROGRAMME_BITRATE
            # As the VP8 fallback (transcode.py): no B-frames, no lookahead, one thread; keyframes forced
            # at segment boundaries and when a WHEP viewer asks.
            enc.options = {
                "preset": self._preset,
                "tune": "zerolatency",
                "profile": "baseline",
                "forced-idr": "1",
                "x264-params": f"keyint={X264_MAX_KEYINT_FRAMES}:scenecut=0:repeat-headers=1:threads=1",
            }
            enc.open()
            self._encoder = enc
        return self._encoder

    # -- audio -----------------------------------------------------------------------------------

    def _audio(self, n: int, due: float) -> None:
        """Programme audio chunk `n`: every voice as captured at `due`, mixed."""
        mix = np.zeros(CHUNK_SAMPLES, dtype=np.int32)
        for tile in self._tiles:
            inp = self._inputs.get(tile.member_id)
            if inp is None:
                continue
            voice = inp.take(due)  # taken even when muted, so unmuting is not late
            if not tile.muted and len(voice):
                mix[: len(voice)] += voice
        pcm = np.clip(mix, -32768, 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = n * CHUNK_SAMPLES
        frame.time_base = Fraction(1, AUDIO_RATE)
        for packet in self._opus_encoder().encode(frame):
            # Stamped with its input's time: the encoder's 6.5 ms look-ahead is the same as a publisher's.
            pts = max(0, int(packet.pts)) if packet.pts is not None else n * CHUNK_SAMPLES
            self._loop.call_soon_threadsafe(self._emit, "opus", bytes(packet), pts)

    def _opus_encoder(self) -> av.CodecContext:
        if self._opus is None:
            enc = av.CodecContext.create("libopus", "w")
            enc.sample_rate = AUDIO_RATE
            enc.layout = "mono"
            enc.format = "s16"
            enc.bit_rate = OPUS_BITRATE
            enc.time_base = Fraction(1, AUDIO_RATE)
            enc.open()
            self._opus = enc
        return self._opus


def render_text(text: str, width: int, height: int) -> np.ndarray | None:
    """The text in white on black as a `height`×`width` alpha mask, drawn once per label by FFmpeg's
    drawtext (PyAV's own FFmpeg has no freetype). None when that is not possible: the band stays empty."""
    size = max(12, height * 11 // 20)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "label.txt"
        path.write_text(text, encoding="utf-8")
        graph = f"drawtext=textfile={path}:font={LABEL_FONT}:fontcolor=white:fontsize={size}:x={height // 2}:y=(h-th)/2"
        try:
            result = subprocess.run(
                [
                    "ffmpeg",
                    "-nostdin",
                    "-v",
                    "error",
                    "-f",
                    "lavfi",
                    "-i",
                    f"color=c=black:s={width}x{height}",
                    "-frames:v",
                    "1",
                    "-vf",
                    graph,
                    "-f",
                    "rawvideo",
                    "-pix_fmt",
                    "gray",
                    "-",
                ],
                capture_output=True,
                timeout=10,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            logger.warning("could not draw the lower-third %r", text, exc_info=True)
            return None
    if len(result.stdout) != width * height:
        return None
    return np.frombuffer(result.stdout, dtype=np.uint8).reshape(height, width)
