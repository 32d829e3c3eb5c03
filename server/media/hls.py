"""HLS writer: muxes already-encoded H.264 and AAC into MPEG-TS segments, parts and playlists.

Synchronous by design: one `SerialWorker` thread per feed calls it, so the event loop
never muxes or touches the disk. Segments are cut only at video keyframes once they are at
least `segment_seconds` long; the publisher is asked for a keyframe every segment duration,
which keeps segments regular without re-encoding anything.

Low-Latency HLS: a segment is muxed into memory and cut into parts of about a third of a second
(PART_TARGET_SECONDS) between frames; a part is the TS packets the muxer has flushed since the last
cut, so the parts of a segment concatenated are exactly the segment file. Only a segment's first
part starts with a keyframe (and PAT/PMT): that one is INDEPENDENT. Parts live in memory only
(`on_live` hands each one to the event loop, see live.py); the segment reaches the disk when it
closes. An explicit `discontinuity()` (a publisher leaving, the programme switching source) makes
the next segment, and its parts, start with EXT-X-DISCONTINUITY.

Files of a feed directory:
  NNNNNN.ts        segments, named by media sequence number, shared by live and archive
  live.m3u8        the live EVENT playlist: every segment since the event began (DVR) and the recent
                   parts (its in-memory twin is served as /live/{slug}/index.m3u8, and its delta
                   update for `_HLS_skip=YES`; parts NNNNNN.K.ts are only ever in memory)
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
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from .playlist import (
    PART_TARGET_SECONDS,
    PARTS_LISTED_SEGMENTS,
    Entry,
    Part,
    avc_codec,
    part_name,
    render,
    segment_text,
    target_duration,
)

MPEGTS_TIME_BASE = Fraction(1, 90_000)
AAC_SAMPLE_RATE = 48_000
# How many recent segments the live edge keeps in memory (live.py): players start three segments from
# the end, and a few more let a briefly stalled player catch up from memory. The playlist lists every
# segment of the event (DVR); older ones are served from the disk.
LIVE_WINDOW_SEGMENTS = 6
AAC_CODEC = "mp4a.40.2"  # AAC-LC, RFC 6381
# A keyframe that arrives a little before the nominal boundary (publisher clock jitter,
# frame rate not dividing the segment duration) still starts the next segment.
CUT_EARLY_TOLERANCE_SECONDS = 0.1
# Duration credited to the last video frame of a segment cut by a session end.
NOMINAL_FRAME_SECONDS = 1 / 30
# An event's first segment is number 1, not 0: hls.js (1.7) takes the segment of a part being appended
# as `sn || -1`, so while it appends the parts of segment 0 it forgets that segment and re-requests its
# parts in a loop (every ~15 ms until the segment leaves the part window), appending the same media
# again and again; its timeline is then wrong (a viewer who joined at the start stalls, "From the start"
# lands on a time that is later corrected, and the player jumps back to live). Any number may start.
FIRST_SEQUENCE = 1
# Muxer options for parts: flush every packet to our sink (a part is what was flushed when it is
# cut), audio in one PES per frame (else up to ~180 ms of AAC waits in the muxer for the next
# part), and a video frame waits at most 100 ms in the interleaver for audio that may never come.
MUXER_OPTIONS = {"flush_packets": "1", "pes_payload_size": "0", "max_interleave_delta": "100000"}

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


@dataclass(frozen=True)
class LiveUpdate:
    """What changed in a feed's live output, handed from the writer thread to the event loop."""

    playlist: bytes
    blobs: dict[str, bytes]  # new parts and/or the segment just closed, by name
    open_sequence: int | None  # media sequence of the segment being written (None: no session)
    open_parts: int  # parts of it published so far
    last_closed: int  # media sequence of the newest closed segment (-1: none)
    listed: frozenset[str] = field(default_factory=frozenset)  # names the playlist still refers to
    ended: bool = False
    parts: tuple[Part, ...] = ()  # the parts in `blobs`
    delta: bytes = b""  # the playlist's delta update (`_HLS_skip=YES`); empty: none offered
    bandwidth: int = 0  # peak segment bit rate so far (bits/s; 0: no segment yet)
    average_bandwidth: int = 0
    codecs: str = ""  # RFC 6381 codecs of what is being written ("avc1.42e01f,mp4a.40.2")


class _Sink:
    """The muxer's output: everything of the segment, and where the last part was cut."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.cut = 0

    def write(self, chunk: bytes) -> int:
        self.data += chunk
        return len(chunk)

    def take(self) -> bytes:
        part = bytes(self.data[self.cut :])
        self.cut = len(self.data)
        return part


class _OpenSegment:
    def __init__(
        self,
        path: Path,
        sequence: int,
        start: float,
        discontinuity: bool,
        audio_extradata: bytes | None,
        wall: float,
    ):
        self.path = path
        self.sequence = sequence
        self.start = start
        self.wall = wall
        self.end = start
        self.discontinuity = discontinuity
        self.first_arrival = time.monotonic()
        self.parts: list[Part] = []
        self.part_start = start
        self.sink = _Sink()
        self.container = av.open(self.sink, "w", format="mpegts", options=MUXER_OPTIONS)
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

    def cut_part(self, end: float) -> tuple[Part, bytes] | None:
        """The bytes flushed since the last cut as part of [part_start, end); None if nothing was."""
        data = self.sink.take()
        if not data:
            return None
        index = len(self.parts)
        part = Part(part_name(self.sequence, index), max(end - self.part_start, 0.001), index == 0, time.monotonic())
        self.parts.append(part)
        self.part_start = end
        return part, data

    def close(self) -> bytes:
        self.container.close()
        return bytes(self.sink.data)


class HlsWriter:
    """Segments, parts and playlists of one feed (camera or screen) of one event."""

    def __init__(
        self,
        directory: Path,
        segment_seconds: float,
        on_segment: Callable[[Segment], None] | None = None,
        wall_clock: Callable[[], float] = time.time,
        on_live: Callable[[LiveUpdate], None] | None = None,
    ) -> None:
        """`on_live` runs in the writer's thread after every part and segment."""
        self.directory = directory
        self.segment_seconds = segment_seconds
        self._wall_clock = wall_clock
        self.segments: list[Segment] = []
        self._on_segment = on_segment
        self._on_live = on_live
        self._open: _OpenSegment | None = None
        self._next_sequence = FIRST_SEQUENCE
        self._pending_discontinuity = False
        self._video_started = False  # this session has written its first keyframe
        self._audio_extradata: bytes | None = None
        self._target_duration = target_duration(segment_seconds)
        self._parts: dict[int, tuple[Part, ...]] = {}  # parts of the recent closed segments, listed live
        self._plain: list[Entry] = []  # every segment as the live playlist lists it once its parts are gone
        self._body = ""  # the live playlist's text of the first `_body_count` segments: they never change
        self._body_count = 0
        self._bits = 0.0  # of the segments written this run, for the multivariant playlist's BANDWIDTH
        self._seconds = 0.0
        self.peak_bitrate = 0
        self._avc = ""
        self._frame_interval = NOMINAL_FRAME_SECONDS
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

    @property
    def target_duration(self) -> int:
        return self._target_duration

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
        self._plain = [Entry(s.sequence, s.name, s.duration, s.discontinuity, s.wall) for s in self.segments]
        if self.segments:
            self._next_sequence = self.segments[-1].sequence + 1
            self._pending_discontinuity = True
            self._last_video = self._last_audio = self.end
            longest = max(s.duration for s in self.segments)
            self._target_duration = max(self._target_duration, target_duration(longest))
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
        if self._last_video >= 0:
            self._frame_interval = min(max(seconds - self._last_video, 1 / 120), 0.1)
        self._last_video = seconds
        if not self._video_started:
            if not keyframe:
                return  # a segment must start with a keyframe to be decodable alone
            self._avc = _avc_of(data) or self._avc
            self._video_started = True
            self._session_start = seconds
        seg = self._open
        if seg is None or (keyframe and seconds - seg.start >= self.segment_seconds - CUT_EARLY_TOLERANCE_SECONDS):
            if seg is not None:
                self._close_segment(end=seconds)
            seg = self._start_segment(seconds, self._wall_clock() if wall is None else wall)
        elif seconds - seg.part_start + self._frame_interval / 2 >= PART_TARGET_SECONDS:
            # Cut before this frame: the part ends where it begins, at the frame nearest the target.
            cut = seg.cut_part(seconds)
            if cut is not None:
                self._publish({cut[0].name: cut[1]}, (cut[0],))
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
        """The publisher left (or the programme switches source): close the segment; the next one
        starts with a keyframe and an EXT-X-DISCONTINUITY."""
        self._video_started = False  # first: the playlist written on closing hints at no next part
        self._session_start = math.inf
        if self._open is not None:
            self._close_segment(end=self._open.end)
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
        self._write(self.directory / ARCHIVE_PLAYLIST, self._render(list(self._plain), vod=True))
        self._publish({}, ())
        if not self.segments or not remux:
            return None
        return remux_to_mp4(self.directory / ARCHIVE_PLAYLIST, self.directory / RECORDING)

    def _start_segment(self, seconds: float, wall: float) -> _OpenSegment:
        sequence = self._next_sequence
        self._open = _OpenSegment(
            self.directory / f"{sequence:06d}.ts",
            sequence,
            seconds,
            self._pending_discontinuity,
            self._audio_extradata,
            wall,
        )
        self._pending_discontinuity = False
        return self._open

    def _close_segment(self, end: float) -> None:
        seg = self._open
        assert seg is not None
        self._open = None
        last = seg.cut_part(end)  # before close: what the interleaver still holds goes with the segment
        data = seg.close()
        tail = seg.sink.take()
        if last is not None or tail:
            # The muxer's last flush joins the final part (or is it, when nothing else was pending).
            if last is not None:
                part, head = last
                seg.parts[-1] = Part(part.name, part.duration, part.independent, time.monotonic())
                last = (seg.parts[-1], head + tail)
            else:
                index = len(seg.parts)
                part = Part(part_name(seg.sequence, index), max(end - seg.part_start, 0.001), index == 0)
                seg.parts.append(part)
                last = (part, tail)
        tmp = seg.path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, seg.path)
        duration = max(end - seg.start, 0.001)
        # Only a publisher ignoring keyframe requests grows it; players tolerate a grown target
        # duration better than an EXTINF above it.
        self._target_duration = max(self._target_duration, target_duration(duration))
        segment = Segment(
            sequence=seg.sequence,
            name=seg.path.name,
            start=seg.start,
            duration=duration,
            discontinuity=seg.discontinuity,
            first_arrival=seg.first_arrival,
            listed_at=0.0,
            wall=seg.wall,
        )
        self._next_sequence = seg.sequence + 1
        self.segments.append(segment)
        self._plain.append(Entry(segment.sequence, segment.name, duration, segment.discontinuity, segment.wall))
        self._bits += len(data) * 8
        self._seconds += duration
        if duration >= self.segment_seconds / 2:  # a stub cut by a session end says nothing of the rate
            self.peak_bitrate = max(self.peak_bitrate, round(len(data) * 8 / duration))
        self._parts[segment.sequence] = tuple(seg.parts)
        for old in [s for s in self._parts if s <= segment.sequence - PARTS_LISTED_SEGMENTS]:
            del self._parts[old]
        with (self.directory / SEGMENT_LOG).open("a", encoding="utf-8") as log:
            fields = (segment.sequence, f"{segment.start:.6f}", f"{segment.duration:.6f}")
            tail_fields = (int(segment.discontinuity), segment.name, f"{segment.wall:.3f}")
            log.write(" ".join(map(str, (*fields, *tail_fields))) + "\n")
        blobs = {segment.name: data}
        if last is not None:
            blobs[last[0].name] = last[1]
        self._publish(blobs, (last[0],) if last is not None else ())
        listed = Segment(**{**segment.__dict__, "listed_at": time.monotonic()})
        self.segments[-1] = listed
        if self._on_segment is not None:
            self._on_segment(listed)

    def _publish(self, blobs: dict[str, bytes], parts: tuple[Part, ...]) -> None:
        """Write the live playlist and hand the change to the event loop."""
        window = self.segments[-LIVE_WINDOW_SEGMENTS:]
        text = self._render_live(skip=False)
        self._write(self.directory / LIVE_PLAYLIST, text)
        if self._on_live is None:
            return
        codecs = ",".join(c for c in (self._avc, AAC_CODEC if self._audio_extradata else "") if c)
        listed = {s.name for s in window}
        listed.update(p.name for parts_ in self._parts.values() for p in parts_)
        if self._open is not None:
            listed.update(p.name for p in self._open.parts)
        self._on_live(
            LiveUpdate(
                playlist=text.encode(),
                blobs=blobs,
                open_sequence=self._open.sequence if self._open is not None else None,
                open_parts=len(self._open.parts) if self._open is not None else 0,
                last_closed=self.segments[-1].sequence if self.segments else -1,
                listed=frozenset(listed),
                ended=self.finished,
                parts=parts,
                delta=b"" if self.finished else self._render_live(skip=True).encode(),
                bandwidth=self.peak_bitrate,
                average_bandwidth=round(self._bits / self._seconds) if self._seconds else 0,
                codecs=codecs,
            )
        )

    def _render_live(self, skip: bool) -> str:
        """The live EVENT playlist (every segment of the event), or its delta update."""
        recent = len(self.segments) - PARTS_LISTED_SEGMENTS
        if not skip:
            # Segments past the parts window never change: render each once, into the shared body.
            while self._body_count < max(recent, 0):
                entry = self._plain[self._body_count]
                dated = self._body_count == 0 or entry.discontinuity
                self._body += segment_text(entry, dated, low_latency=not self.finished)
                self._body_count += 1
        entries = self._plain[: max(recent, 0)]
        entries += [
            Entry(s.sequence, s.name, s.duration, s.discontinuity, s.wall, self._parts.get(s.sequence, ()))
            for s in self.segments[max(recent, 0) :]
        ]
        return self._render(entries, vod=False, skip=skip)

    def _render(self, entries: list[Entry], vod: bool, skip: bool = False) -> str:
        live = not vod and not self.finished
        hint = None
        seg = self._open
        if live and seg is not None:
            if seg.parts:
                entries.append(Entry(seg.sequence, seg.path.name, None, seg.discontinuity, seg.wall, tuple(seg.parts)))
            hint = part_name(seg.sequence, len(seg.parts))
        elif live and self._video_started:
            hint = part_name(self._next_sequence, 0)  # between a segment's close and the next one's start
        # The body was rendered with the parts' tags; after the end (no parts) it is rendered afresh.
        body = live and not vod and not skip and self._body_count <= len(entries)
        return render(
            entries,
            target=self._target_duration,
            discontinuity_sequence=0,  # every playlist starts at the event's first segment
            next_sequence=self._next_sequence,
            low_latency=live,
            preload_hint=hint,
            endlist=self.finished,
            vod=vod,
            event=not vod,
            skip=skip,
            body=self._body if body else "",
            body_entries=self._body_count if body else 0,
        )

    @staticmethod
    def _write(path: Path, text: str) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)  # readers never see half a playlist


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


def _avc_of(annexb: bytes) -> str | None:
    """The RFC 6381 codec of a keyframe's SPS (keyframes carry it: bitstream.h264_tidy_access_unit)."""
    start = annexb.find(b"\x00\x00\x01")
    while start >= 0 and start + 7 <= len(annexb):
        if annexb[start + 3] & 0x1F == 7:
            return avc_codec(annexb[start + 3 : start + 7])
        start = annexb.find(b"\x00\x00\x01", start + 3)
    return None
