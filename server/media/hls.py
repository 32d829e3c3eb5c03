"""HLS writer: muxes already-encoded H.264 and AAC into MPEG-TS segments and playlists.

Synchronous by design: one `SerialWorker` thread per feed calls it, so the event loop
never muxes or touches the disk. Segments are cut only at video keyframes once they are at
least `segment_seconds` long; the publisher is asked for a keyframe every segment duration,
which keeps segments regular without re-encoding anything.

Files of a feed directory:
  NNNNNN.ts        segments, named by media sequence number, shared by live and archive
  live.m3u8        sliding live playlist (served as /live/{slug}/index.m3u8)
  segments.log     one line per segment ("sequence start duration discontinuity name wall"): the
                   durable record; a restarted server resumes numbering and timing from it. `wall`
                   (Unix seconds when its first frame arrived) maps moments of the event (a question
                   being answered) onto the recording; playlists carry it as EXT-X-PROGRAM-DATE-TIME
  index.m3u8       the archive VOD playlist with #EXT-X-ENDLIST, written by `finish()`
  recording.mp4    `-c copy` remux of the archive with the moov atom first (faststart)
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av

MPEGTS_TIME_BASE = Fraction(1, 90_000)
AAC_SAMPLE_RATE = 48_000
# How many segments a live playlist lists: players start three segments from the end, and a
# few more let a briefly stalled player catch up without a 404.
LIVE_WINDOW_SEGMENTS = 6
# A keyframe that arrives a little before the nominal boundary (publisher clock jitter,
# frame rate not dividing the segment duration) still starts the next segment.
CUT_EARLY_TOLERANCE_SECONDS = 0.1
# Duration credited to the last video frame of a segment cut by a session end.
NOMINAL_FRAME_SECONDS = 1 / 30

LIVE_PLAYLIST = "live.m3u8"
SEGMENT_LOG = "segments.log"
ARCHIVE_PLAYLIST = "index.m3u8"
RECORDING = "recording.mp4"


@dataclass(frozen=True)
class Segment:
    sequence: int
    name: str
    start: float  # recording seconds
    duration: float
    discontinuity: bool
    first_arrival: float  # time.monotonic() when its first frame reached the writer
    listed_at: float  # time.monotonic() when the live playlist first listed it
    wall: float = 0.0  # Unix time of its first frame (0: unknown, a log written before it was kept)


class _OpenSegment:
    def __init__(self, path: Path, start: float, discontinuity: bool, audio_extradata: bytes | None, wall: float):
        self.path = path
        self.start = start
        self.wall = wall
        self.end = start
        self.discontinuity = discontinuity
        self.first_arrival = time.monotonic()
        self.container = av.open(str(path), "w", format="mpegts")
        self.video = self.container.add_stream("h264", rate=30)
        self.video.time_base = MPEGTS_TIME_BASE
        self.audio = None
        if audio_extradata is not None:
            self.audio = self.container.add_stream("aac", rate=AAC_SAMPLE_RATE)
            self.audio.codec_context.extradata = audio_extradata
            self.audio.time_base = MPEGTS_TIME_BASE

    def mux(self, stream: av.stream.Stream, data: bytes, seconds: float, keyframe: bool) -> None:
        packet = av.Packet(data)
        packet.pts = packet.dts = round(seconds * 90_000)
        packet.time_base = MPEGTS_TIME_BASE
        packet.is_keyframe = keyframe
        packet.stream = stream
        self.container.mux(packet)

    def close(self) -> None:
        self.container.close()


class HlsWriter:
    """Segments and playlists of one feed (camera or screen) of one event."""

    def __init__(
        self,
        directory: Path,
        segment_seconds: float,
        on_segment: Callable[[Segment], None] | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.segment_seconds = segment_seconds
        self._wall_clock = wall_clock
        self.segments: list[Segment] = []
        self._on_segment = on_segment
        self._open: _OpenSegment | None = None
        self._next_sequence = 0
        self._pending_discontinuity = False
        self._video_started = False  # this session has written its first keyframe
        self._audio_extradata: bytes | None = None
        self._target_duration = max(1, math.ceil(segment_seconds + CUT_EARLY_TOLERANCE_SECONDS))
        self.finished = False
        self.dropped_video = 0
        self._last_video = -1.0
        self._last_audio = -1.0
        self._session_start = math.inf
        directory.mkdir(parents=True, exist_ok=True)
        self._resume()

    @property
    def end(self) -> float:
        """Recording time where the segments written so far (this run or earlier) stop."""
        return max((s.start + s.duration for s in self.segments), default=0.0)

    def _resume(self) -> None:
        """Continue a recording written before a server restart instead of overwriting it."""
        log = self.directory / SEGMENT_LOG
        if not log.is_file():
            return
        for line in log.read_text(encoding="utf-8").splitlines():
            fields = line.split()
            if len(fields) not in (5, 6) or not (self.directory / fields[4]).is_file():
                continue  # a line torn by a crash, or a segment that never reached the disk
            sequence, start, duration, disc, name = fields[:5]
            wall = float(fields[5]) if len(fields) == 6 else 0.0
            self.segments.append(
                Segment(int(sequence), name, float(start), float(duration), disc == "1", 0.0, 0.0, wall)
            )
        if self.segments:
            self._next_sequence = self.segments[-1].sequence + 1
            self._pending_discontinuity = True
            self._last_video = self._last_audio = self.end
            self._target_duration = max(self._target_duration, *(math.ceil(s.duration) for s in self.segments))
        self.finished = (self.directory / ARCHIVE_PLAYLIST).is_file()

    # -- input ---------------------------------------------------------------------------

    def set_audio_config(self, extradata: bytes | None) -> None:
        """AAC AudioSpecificConfig; mpegts needs it to frame raw AAC as ADTS. None: segments carry video
        only (a screen share without sound); an empty audio stream would make players wait for it forever."""
        self._audio_extradata = extradata

    def write_video(self, data: bytes, seconds: float, keyframe: bool, wall: float | None = None) -> None:
        """`wall`: Unix time this frame was captured (about when it arrived); only keyframes need it,
        as they start segments. None: the writer's clock now."""
        if self.finished:
            return
        if seconds <= self._last_video:
            # A late remainder of an already written frame (same RTP timestamp) or a clock
            # step back: muxers require increasing timestamps, and players do too.
            self.dropped_video += 1
            return
        self._last_video = seconds
        if not self._video_started:
            if not keyframe:
                return  # a segment must start with a keyframe to be decodable alone
            self._video_started = True
            self._session_start = seconds
        seg = self._open
        if seg is None or (keyframe and seconds - seg.start >= self.segment_seconds - CUT_EARLY_TOLERANCE_SECONDS):
            if seg is not None:
                self._close_segment(end=seconds)
            seg = self._start_segment(seconds, self._wall_clock() if wall is None else wall)
        seg.mux(seg.video, data, seconds, keyframe)
        seg.end = max(seg.end, seconds + NOMINAL_FRAME_SECONDS)

    def write_audio(self, data: bytes, seconds: float) -> None:
        seg = self._open
        # Audio before the session's first keyframe has no segment to live in. Audio a
        # little older than the current segment's keyframe (the AAC encoder lags by a frame)
        # belongs at the head of that segment: dropping it would punch gaps at every cut.
        if self.finished or seg is None or seg.audio is None or seconds < self._session_start:
            return
        if seconds <= self._last_audio:
            return
        self._last_audio = seconds
        seg.mux(seg.audio, data, seconds, True)

    def discontinuity(self) -> None:
        """The publisher left: close the segment; the next session starts a discontinuity."""
        if self._open is not None:
            self._close_segment(end=self._open.end)
        self._video_started = False
        self._session_start = math.inf
        if self.segments:
            self._pending_discontinuity = True

    # -- output --------------------------------------------------------------------------

    def finish(self, remux: bool = True) -> Path | None:
        """Close the recording: archive playlist with ENDLIST and (unless `remux` is False, when the
        archive jobs do it later) the MP4 remux."""
        if self.finished:
            return self.directory / RECORDING if self.segments and remux else None
        self.discontinuity()
        self.finished = True
        self._write_playlist(self.directory / ARCHIVE_PLAYLIST, self.segments, vod=True)
        self._write_playlist(self.directory / LIVE_PLAYLIST, self.segments[-LIVE_WINDOW_SEGMENTS:], vod=True)
        if not self.segments or not remux:
            return None
        return remux_to_mp4(self.directory / ARCHIVE_PLAYLIST, self.directory / RECORDING)

    def _start_segment(self, seconds: float, wall: float) -> _OpenSegment:
        name = f"{self._next_sequence:06d}.ts"
        self._open = _OpenSegment(
            self.directory / name, seconds, self._pending_discontinuity, self._audio_extradata, wall
        )
        self._pending_discontinuity = False
        return self._open

    def _close_segment(self, end: float) -> None:
        seg = self._open
        assert seg is not None
        self._open = None
        seg.close()
        duration = max(end - seg.start, 0.001)
        if duration > self._target_duration:
            # Only a publisher ignoring keyframe requests gets here; players tolerate a
            # grown target duration better than an EXTINF above it.
            self._target_duration = math.ceil(duration)
        segment = Segment(
            sequence=self._next_sequence,
            name=seg.path.name,
            start=seg.start,
            duration=duration,
            discontinuity=seg.discontinuity,
            first_arrival=seg.first_arrival,
            listed_at=0.0,
            wall=seg.wall,
        )
        self._next_sequence += 1
        self.segments.append(segment)
        with (self.directory / SEGMENT_LOG).open("a", encoding="utf-8") as log:
            fields = (segment.sequence, f"{segment.start:.6f}", f"{segment.duration:.6f}")
            tail = (int(segment.discontinuity), segment.name, f"{segment.wall:.3f}")
            log.write(" ".join(map(str, (*fields, *tail))) + "\n")
        self._write_playlist(self.directory / LIVE_PLAYLIST, self.segments[-LIVE_WINDOW_SEGMENTS:], vod=False)
        listed = Segment(**{**segment.__dict__, "listed_at": time.monotonic()})
        self.segments[-1] = listed
        if self._on_segment is not None:
            self._on_segment(listed)

    def _write_playlist(self, path: Path, segments: list[Segment], vod: bool) -> None:
        first = segments[0] if segments else None
        earlier = self.segments[: self.segments.index(first)] if first else []
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{self._target_duration}",
            f"#EXT-X-MEDIA-SEQUENCE:{first.sequence if first else self._next_sequence}",
            f"#EXT-X-DISCONTINUITY-SEQUENCE:{sum(1 for s in earlier if s.discontinuity)}",
        ]
        if vod and path.name == ARCHIVE_PLAYLIST:
            lines.append("#EXT-X-PLAYLIST-TYPE:VOD")
        text = "\n".join(lines) + "\n" + "".join(_entry(s) for s in segments)
        if vod:
            text += "#EXT-X-ENDLIST\n"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)  # readers never see half a playlist


def _entry(segment: Segment) -> str:
    prefix = "#EXT-X-DISCONTINUITY\n" if segment.discontinuity else ""
    if segment.wall > 0:
        moment = datetime.fromtimestamp(segment.wall, UTC).isoformat(timespec="milliseconds")
        prefix += f"#EXT-X-PROGRAM-DATE-TIME:{moment.replace('+00:00', 'Z')}\n"
    return f"{prefix}#EXTINF:{segment.duration:.3f},\n{segment.name}\n"


def remux_to_mp4(playlist: Path, target: Path) -> Path:
    """`ffmpeg -i index.m3u8 -c copy -movflags +faststart recording.mp4`, in-process."""
    tmp = target.with_suffix(".tmp.mp4")
    with (
        av.open(str(playlist), format="hls") as source,
        av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as sink,
    ):
        mapping = {}
        for stream in source.streams:
            if stream.type in ("video", "audio"):
                mapping[stream.index] = sink.add_stream_from_template(stream)
        for packet in source.demux(*[source.streams[i] for i in mapping]):
            if packet.dts is None:
                continue  # the demuxer's end-of-stream flush packet
            packet.stream = mapping[packet.stream.index]
            sink.mux(packet)
    os.replace(tmp, target)
    return target
