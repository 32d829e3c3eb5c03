"""The live captions as an HLS subtitles track: a segmented WebVTT media playlist beside the video's.

For players that show HLS subtitles themselves (Safari and iOS full screen, TVs, hls.js's text tracks)
where the page's caption band (the WebSocket) is not there. Each subtitle segment covers the same span
of the recording clock as the video segment of the same media sequence number (read from the feed's
`segments.log`), and carries `X-TIMESTAMP-MAP` mapping its start to the MPEG-TS time of that span
(the HLS writer stamps packets with recording seconds × 90 kHz), so cues line up with the programme.
Cue times are recording seconds, as the `caption` frames and the archive's captions.vtt have them.

A final caption exists about 2 s after its phrase ends; a subtitle segment a player has fetched is never
fetched again. So the subtitles playlist lists a segment only LAG_SECONDS after its span has ended,
which puts the track that far behind the video's live edge — a player holding back further than that
(regular HLS: three segments) shows every cue; one playing at the LL-HLS edge shows them late. The
caption band over the page's player, fed by the WebSocket, is the low-latency path.

Pure rendering here (no I/O); the routes read the log and the stored lines (server/api/captions.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from server.media.playlist import Entry, render

GROUP_ID = "subs"
PLAYLIST = "subtitles.m3u8"
SEGMENT_DIR = "subtitles"
# How long after a span ends its subtitles segment is listed: a final caption follows its phrase by
# ≈ 1–2 s (bench/live_captions.py), plus the pause that ends a phrase.
LAG_SECONDS = 3.0
# Segments the live subtitles playlist lists (the video's live window is six).
WINDOW_SEGMENTS = 6
MPEGTS_HZ = 90_000


@dataclass(frozen=True)
class Span:
    """One video segment as segments.log records it: its number and its span on the recording clock."""

    sequence: int
    start: float
    duration: float
    discontinuity: bool

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def media_line(uri: str = PLAYLIST, group: str = GROUP_ID) -> str:
    """The multivariant playlist's line for this track (the variants name `SUBTITLES="subs"`)."""
    return (
        f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="{group}",NAME="字幕 Captions",LANGUAGE="zh",'
        f'AUTOSELECT=YES,DEFAULT=NO,FORCED=NO,URI="{uri}"'
    )


def parse_log(text: str) -> list[Span]:
    """segments.log ("sequence start duration discontinuity name [wall]" per line); torn lines skipped."""
    spans = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) not in (5, 6):
            continue
        try:
            spans.append(Span(int(fields[0]), float(fields[1]), float(fields[2]), fields[3] == "1"))
        except ValueError:
            continue
    return spans


def segment_name(sequence: int) -> str:
    return f"{SEGMENT_DIR}/{sequence:06d}.vtt"


def render_playlist(spans: Sequence[Span], *, live: bool, discontinuity_base: int = 0) -> str:
    """The subtitles media playlist: live, the window of spans that ended LAG_SECONDS before the newest
    one did; otherwise (the event ended) every span, with ENDLIST."""
    listed = list(spans)
    if live and listed:
        edge = listed[-1].end
        listed = [s for s in listed if s.end <= edge - LAG_SECONDS][-WINDOW_SEGMENTS:]
    first = listed[0].sequence if listed else math.inf
    dropped = [s for s in spans if s.sequence < first]
    discontinuities = discontinuity_base + sum(s.discontinuity for s in dropped)
    entries = [Entry(s.sequence, segment_name(s.sequence), s.duration, s.discontinuity, 0.0) for s in listed]
    longest = max((s.duration for s in listed), default=1.0)
    return render(
        entries,
        target=max(1, math.floor(longest + 0.5)),
        discontinuity_sequence=discontinuities,
        next_sequence=spans[0].sequence if spans else 0,
        low_latency=False,
        endlist=not live,
        vod=not live,
    )


def timestamp(seconds: float) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _escape(text: str) -> str:
    # A cue's text is plain: no markup from the recogniser or a correction may reach the player.
    text = " ".join(text.replace("-->", "→").split())
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_segment(span: Span, cues: Iterable[Cue]) -> str:
    """The WebVTT file of one span: every cue that overlaps it (a cue crossing into the next span is
    repeated there, as the HLS spec allows; players show it once)."""
    lines = [
        "WEBVTT",
        f"X-TIMESTAMP-MAP=MPEGTS:{round(span.start * MPEGTS_HZ)},LOCAL:{timestamp(span.start)}",
        "",
    ]
    for cue in sorted(cues, key=lambda c: (c.start, c.end)):
        if cue.end <= span.start or cue.start >= span.end or not cue.text.strip():
            continue
        lines += [f"{timestamp(cue.start)} --> {timestamp(max(cue.end, cue.start + 0.001))}"]
        lines += [_escape(cue.text), ""]
    return "\n".join(lines) + "\n"
