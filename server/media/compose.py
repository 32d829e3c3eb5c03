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
from .layout import HEIGHT, WIDTH, Layout, Rect, fit, rectangles

logger = logging.getLogger(__name__)

FPS = 30
AUDIO_RATE = AUDIO_CLOCK
CHUNK_SAMPLES = 960  # 20 ms, one Opus frame
# x264 preset of the programme, measured by bench/stage.py on 2 cores at 720p30 (bench/README.md): in the
# baseline profile (no CABAC, no 8×8 transform, which superfast would use) ultrafast encodes the programme
# in 0.5-0.7 of superfast's time at the same luma PSNR (within 0.2 dB); what it gives up is the deblocking
# filter and adaptive quantisation. MediaService(x264_preset=...) takes another.
X264_PRESET = "ultrafast"
PROGRAMME_BITRATE = 2_500_000
OPUS_BITRATE = 64_000
X264_MAX_KEYINT_FRAMES = 600  # a backstop: keyframes are forced every segment and on request
# As the VP8 fallback (transcode.py): no B-frames, no lookahead, one thread; keyframes forced at segment
# boundaries and when a WHEP viewer asks, each an IDR with its parameter sets (a player may join there).
X264_OPTIONS = {
    "tune": "zerolatency",
    "profile": "baseline",
    "forced-idr": "1",
    "x264-params": f"keyint={X264_MAX_KEYINT_FRAMES}:scenecut=0:repeat-headers=1:threads=1",
}
# Every member's pictures and voice are played out at their capture time plus one delay of its own,
# the same for its audio and its video, so that they stay together whenever either comes late. It starts
# here (aiortc holds audio ~50 ms longer than video in its jitter buffers, and packets reach this thread
# in bursts): long enough for that and the usual jitter, short beside the HLS latency. Capture time: each
# track's RTP clock, anchored at its first packet's arrival less the receiver's known buffering (as
# server/media/timeline.py does for a forwarded publisher).
PLAYOUT_DELAY_SECONDS = 0.15
# A member's picture or voice ready later than its delay allows (a loaded machine: its packets or this
# thread held up) raises the member's delay at once to that lateness (with headroom) plus this margin, up
# to the maximum; played late, audio and video alike would drift apart (hundreds of ms at load 10-20 on 2
# cores). A raise cannot move what the other track already played, so marks captured just then may
# come apart by the raise: the headroom makes raises few (lateness grows in steps while a stall lasts).
# Each DELAY_WINDOW_SECONDS without such lateness lower it by one step (a 20 ms skip, an Opus frame)
# towards what the window needed.
PLAYOUT_MARGIN_SECONDS = 0.04
DELAY_HEADROOM = 1.5
MAX_PLAYOUT_DELAY_SECONDS = 0.8
DELAY_WINDOW_SECONDS = 2.0
DELAY_STEP_SECONDS = 0.02
# A track's anchor follows its earliest-arriving packets (the least delayed show the true offset; late
# ones are jitter, which the member's playout delay absorbs), unless its packets come later than the
# longest delay for good (a stall, a clock running slow): then it is anchored again.
REANCHOR_LATE_SECONDS = 1.0
# Decoded pictures kept per member waiting for their playout time: the longest delay's worth.
MAX_WAITING_PICTURES = 26
# Capture times ride through the video decoder as packet timestamps in these units (microseconds).
CAPTURE_TICKS = 1_000_000
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
        self.delay = PLAYOUT_DELAY_SECONDS  # capture → programme, for its audio and video alike
        self._window_start: float | None = None
        self._window_late = 0.0  # the worst lateness seen in the current window

    def note_ready(self, captured: float, now: float) -> None:
        """A picture or 20 ms of voice captured at `captured` is ready to play `now`: keep the delay
        just above the lateness of the recent ones (see PLAYOUT_MARGIN_SECONDS)."""
        late = now - captured
        if late + PLAYOUT_MARGIN_SECONDS > self.delay:
            self.delay = min(MAX_PLAYOUT_DELAY_SECONDS, late * DELAY_HEADROOM + PLAYOUT_MARGIN_SECONDS)
        self._window_late = max(self._window_late, late)
        if self._window_start is None:
            self._window_start = now
        elif now - self._window_start >= DELAY_WINDOW_SECONDS:
            needed = max(PLAYOUT_DELAY_SECONDS, self._window_late + PLAYOUT_MARGIN_SECONDS)
            if needed < self.delay:
                self.delay = max(needed, self.delay - DELAY_STEP_SECONDS)
            self._window_start, self._window_late = now, 0.0

    def decode_video(self, codec: str, data: bytes, captured: float, now: float) -> None:
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
        packet = av.Packet(data)
        # Each picture carries its own capture time through the decoder: one that holds pictures back
        # (reordering it assumes when a stream does not rule it out) must not stamp them with a later one.
        packet.pts = round(captured * CAPTURE_TICKS)
        try:
            frames = self.video_decoder.decode(packet)
        except av.FFmpegError:
            return
        for frame in frames:
            when = captured if frame.pts is None else frame.pts / CAPTURE_TICKS
            self.note_ready(when, now)
            self.waiting.append((when, frame))
        while len(self.waiting) > MAX_WAITING_PICTURES:
            self.waiting.popleft()

    def show(self, due: float) -> None:
        """The picture captured nearest `due` goes on screen (the first one at once, to start): nearest,
        not the latest before it, or pictures would lag the voice by half a frame on average."""
        chosen = None
        due += 0.5 / FPS
        while self.waiting and (self.waiting[0][0] <= due or (self.picture is None and chosen is None)):
            chosen = self.waiting.popleft()[1]
        if chosen is not None:
            self.picture = chosen
            self.generation += 1

    def decode_audio(self, data: bytes, captured: float, now: float) -> None:
        try:
            frames = self.audio_decoder.decode(av.Packet(data))
        except av.FFmpegError:
            return
        parts = [out.to_ndarray().reshape(-1) for frame in frames for out in self.resampler.resample(frame)]
        if not parts:
            return
        self.note_ready(captured, now)
        pcm = np.concatenate(parts) if len(parts) > 1 else parts[0]
        for i in range(0, len(pcm), CHUNK_SAMPLES):  # browsers send 20 ms; longer packets are split
            self.voice.append((captured + i / AUDIO_RATE, pcm[i : i + CHUNK_SAMPLES]))

    def take(self, due: float) -> np.ndarray:
        """The 20 ms captured at `due`, or nothing (a gap). The delay is kept above what comes late, so
        a chunk found older than `due` was skipped by a lowered delay or a clock that lags: played while
        it is the only one due (heard late rather than not at all), dropped once a later one is due too."""
        half = CHUNK_SAMPLES / AUDIO_RATE / 2
        while len(self.voice) > 1 and self.voice[1][0] <= due + half:
            self.voice.popleft()
        if self.voice and self.voice[0][0] <= due + half:
            return self.voice.popleft()[1]
        return np.zeros(0, dtype=np.int16)


class Compositor:
    """One per event while several members are on air. `session_id` is what the programme feed holds."""

    def __init__(
        self,
        session_id: str,
        segment_seconds: float,
        emit: Emit,
        preset: str = X264_PRESET,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`clock`: the monotonic clock that arrivals, capture times and the programme's pace are read on
        (bench/stage.py runs the compositor's steps flat out on a clock of its own)."""
        self.session_id = session_id
        self._clock = clock
        self._segment_seconds = segment_seconds
        self._emit = emit
        self._preset = preset
        self._loop = asyncio.get_running_loop()
        self._queue: queue.SimpleQueue[tuple[str, tuple[object, ...]]] = queue.SimpleQueue()
        self._inputs: dict[str, _Input] = {}
        self._tiles: list[Tile] = []
        self._layout = Layout.SPEAKER
        self._drawn: dict[str, tuple[int, Rect]] = {}  # member → (picture generation, rect) on the canvas
        self._labels: dict[tuple[str, int, int], _Label | None] = {}
        # The programme's picture: drawn in place (numpy views of its planes) and handed to x264 as is,
        # frame after frame (x264 copies it in before encode() returns): nothing allocated per frame.
        self._frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        self._frame.time_base = Fraction(1, VIDEO_CLOCK)
        self._y, self._u, self._v = (_plane_view(plane) for plane in self._frame.planes)
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
        now = self._clock()
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
        clock = self._clock
        created = clock()
        start: float | None = None
        video_n = audio_n = 0
        next_keyframe = 0.0
        checked = created  # before the start: readiness is checked once a frame interval
        while True:
            now = clock()
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
                if clock() < deadline:
                    continue
            now = clock()
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
                self._video(video_n, force, start + seconds)
                video_n += 1
            while start + audio_n * CHUNK_SAMPLES / AUDIO_RATE <= now:
                self._audio(audio_n, start + audio_n * CHUNK_SAMPLES / AUDIO_RATE)
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
                inp.decode_audio(data, captured, self._clock())
            else:
                inp.decode_video(codec, data, captured, self._clock())
        elif kind == "label":
            key, alpha = args
            assert isinstance(key, tuple) and (alpha is None or isinstance(alpha, np.ndarray))
            self._labels[key] = None if alpha is None else _Label(alpha)
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
        self._y[:], self._u[:], self._v[:] = BACKGROUND

    def _fill(self, rect: Rect, colour: tuple[int, int, int]) -> None:
        if rect.w <= 0 or rect.h <= 0:
            return
        self._y[rect.y : rect.y + rect.h, rect.x : rect.x + rect.w] = colour[0]
        chroma = (slice(rect.y // 2, (rect.y + rect.h) // 2), slice(rect.x // 2, (rect.x + rect.w) // 2))
        self._u[chroma], self._v[chroma] = colour[1], colour[2]

    def _video(self, n: int, keyframe: bool, at: float) -> None:
        """Programme frame `n`, due at `at` (monotonic): drawn, then encoded."""
        self._draw(at)
        self._encode_video(n, keyframe)

    def _draw(self, at: float) -> None:
        """The programme picture (`self._frame`) showing each member as captured its delay before `at`."""
        rects = rectangles(self._layout, len(self._tiles))
        for tile, rect in zip(self._tiles, rects, strict=True):
            inp = self._inputs.get(tile.member_id)
            if inp is not None:
                inp.show(at - inp.delay)
            generation = inp.generation if inp is not None and tile.video else -1
            if self._drawn.get(tile.member_id) == (generation, rect):
                continue  # nothing new from this member: its tile stays as drawn
            self._draw_tile(tile, rect, inp, inp.picture if inp is not None and tile.video else None)
            self._drawn[tile.member_id] = (generation, rect)

    def _encode_video(self, n: int, keyframe: bool) -> None:
        """The drawn picture, encoded once; its packets leave through `_output`."""
        frame = self._frame
        frame.pts = n * (VIDEO_CLOCK // FPS)
        frame.pict_type = av.video.frame.PictureType.I if keyframe else av.video.frame.PictureType.NONE
        for packet in self._video_encoder().encode(frame):
            self.frames_out += 1
            self._output("H264", bytes(packet), int(packet.pts))
        if self.on_picture is not None:
            # The picture is drawn again in place for the next frame: whoever keeps it must copy or scale it
            # now, in this thread.
            self.on_picture(frame, int(frame.pts), keyframe)

    def _draw_tile(self, tile: Tile, rect: Rect, inp: _Input | None, picture: av.VideoFrame | None) -> None:
        if picture is None or inp is None:
            self._fill(rect, AUDIO_ONLY_TILE)
        else:
            box = fit(picture.width, picture.height, rect)
            for margin in _margins(rect, box):  # what the picture leaves of its tile (letterbox)
                self._fill(margin, BACKGROUND)
            # Straight to the tile's size in one swscale pass, copied from the scaled planes into ours.
            scaled = inp.scaler.reformat(
                picture, width=box.w, height=box.h, format="yuv420p", interpolation=Interpolation.FAST_BILINEAR
            )
            sy, su, sv = (_plane_view(plane) for plane in scaled.planes)
            self._y[box.y : box.y + box.h, box.x : box.x + box.w] = sy
            cy, cx, ch, cw = box.y // 2, box.x // 2, box.h // 2, box.w // 2
            self._u[cy : cy + ch, cx : cx + cw] = su
            self._v[cy : cy + ch, cx : cx + cw] = sv
        if tile.label:
            self._draw_label(tile.label, rect)

    def _draw_label(self, text: str, rect: Rect) -> None:
        """A lower-third: a dark band across the tile's foot with the name in white."""
        height = max(24, rect.h // 7) // 2 * 2
        top = rect.y + rect.h - height
        band = self._y[top : top + height, rect.x : rect.x + rect.w]
        band[:] = (band.astype(np.uint16) * 3 // 10 + 11).astype(np.uint8)
        chroma = (slice(top // 2, (top + height) // 2), slice(rect.x // 2, (rect.x + rect.w) // 2))
        self._u[chroma], self._v[chroma] = 128, 128
        key = (text, rect.w, height)
        if key not in self._labels:
            # FFmpeg takes a while to start: draw the band now, the name when it is ready.
            self._labels[key] = None
            threading.Thread(target=self._render_label, args=(key,), daemon=True).start()
        label = self._labels[key]
        if label is not None:
            label.blend(band)

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
            enc.options = {**X264_OPTIONS, "preset": self._preset}
            enc.open()
            self._encoder = enc
        return self._encoder

    def _output(self, codec: str, data: bytes, pts: int) -> None:
        """Where the encoded programme leaves the compositor: every packet, video and audio, to the loop."""
        self._loop.call_soon_threadsafe(self._emit, codec, data, pts)

    # -- audio -----------------------------------------------------------------------------------

    def _audio(self, n: int, at: float) -> None:
        """Programme audio chunk `n`, due at `at`: every voice as captured its member's delay before, mixed."""
        mix = np.zeros(CHUNK_SAMPLES, dtype=np.int32)
        for tile in self._tiles:
            inp = self._inputs.get(tile.member_id)
            if inp is None:
                continue
            voice = inp.take(at - inp.delay)  # taken even when muted, so unmuting is not late
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
            self._output("opus", bytes(packet), pts)

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


class _Label:
    """A rendered name, kept as the pixels it covers (a name covers a small share of its band)."""

    def __init__(self, alpha: np.ndarray) -> None:
        self.rows, self.cols = np.nonzero(alpha)
        self.alpha = alpha[self.rows, self.cols].astype(np.uint16)
        self.white = 235 * self.alpha

    def blend(self, band: np.ndarray) -> None:
        keep = self.cols < band.shape[1]
        rows, cols = self.rows[keep], self.cols[keep]
        under = band[rows, cols].astype(np.uint16)
        band[rows, cols] = ((under * (255 - self.alpha[keep]) + self.white[keep]) // 255).astype(np.uint8)


def _plane_view(plane: av.video.plane.VideoPlane) -> np.ndarray:
    """A plane's pixels as a writable height×width array (its rows may be padded to line_size)."""
    rows = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


def _margins(rect: Rect, box: Rect) -> list[Rect]:
    """`rect` less `box` (inside it): the strips above, below, left and right of the picture."""
    below = box.y + box.h
    right = box.x + box.w
    return [
        Rect(rect.x, rect.y, rect.w, box.y - rect.y),
        Rect(rect.x, below, rect.w, rect.y + rect.h - below),
        Rect(rect.x, box.y, box.x - rect.x, box.h),
        Rect(right, box.y, rect.x + rect.w - right, box.h),
    ]


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
