"""Playlists as text: live media playlists (Low-Latency HLS: parts, preload hint, server control; the
whole event for DVR, with delta updates), VOD, and the multivariant playlist naming the renditions.

Pure: the writer hands in what it has written, this renders it. One playlist serves every client:
players that know LL-HLS (hls.js `lowLatencyMode`, Safari) follow the parts and block on the next
one; the others ignore the EXT-X-PART tags and load whole segments as before.

DVR: a live playlist is an EVENT playlist listing every segment since the event began, so a viewer
who joins late can go back to the start. At 1 s segments that is ~25 bytes a segment (≈180 KB after
two hours), too much to send with every part: the playlist offers delta updates
(`CAN-SKIP-UNTIL`), and a reload with `_HLS_skip=YES` gets the last SKIP_TARGET_DURATIONS target
durations only, the rest replaced by one `EXT-X-SKIP` line (hls.js and Safari ask for it). A date
(EXT-X-PROGRAM-DATE-TIME) is on the first segment and on each discontinuity only: players carry it
forward by the durations, and it keeps the full playlist small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

# A part is about a third of a (1 s) segment: the shortest that keeps a part's HTTP overhead small
# against its bytes, and PART-HOLD-BACK = 3 parts ≈ 1 s behind the live edge.
PART_TARGET_SECONDS = 1 / 3
# What the playlist advertises as PART-TARGET: parts are cut at the first frame at or past the
# target (minus half a frame), so at 30 fps they are 0.333 s; three decimals, rounded up.
PART_TARGET_ADVERTISED = math.ceil(PART_TARGET_SECONDS * 1000) / 1000
# The spec's minimum hold back is 2 parts and it recommends 3; hls.js starts this far from the edge.
PART_HOLD_BACK = round(3 * PART_TARGET_ADVERTISED, 3)
# Parts are listed for the last segments only (the spec: within three target durations of the end);
# older ones are reachable as whole segments.
PARTS_LISTED_SEGMENTS = 3
# Delta updates skip what is older than this many target durations before the playlist's end: the
# spec's minimum is six (a player needs that much of the recent past to stay in step).
SKIP_TARGET_DURATIONS = 6


@dataclass(frozen=True)
class Part:
    name: str
    duration: float
    independent: bool  # starts with a keyframe (and PAT/PMT): a player may start here
    ready_at: float = 0.0  # time.monotonic() when the writer published it (tests, benches)


@dataclass(frozen=True)
class Entry:
    """A segment as the playlist lists it: closed (`duration` set, `name` its URI) or still open."""

    sequence: int
    name: str
    duration: float | None  # None: the open segment, listed by its parts only
    discontinuity: bool
    wall: float  # Unix time of its first frame; 0 = unknown
    parts: tuple[Part, ...] = ()


def target_duration(longest_segment: float) -> int:
    """EXT-X-TARGETDURATION: every EXTINF rounded to the nearest integer must not exceed it."""
    return max(1, math.floor(longest_segment + 0.5))


def render(
    entries: Sequence[Entry],
    *,
    target: int,
    discontinuity_sequence: int,
    next_sequence: int,
    low_latency: bool,
    preload_hint: str | None = None,
    endlist: bool = False,
    vod: bool = False,
    event: bool = False,
    skip: bool = False,
    body: str = "",
    body_entries: int = 0,
) -> str:
    """`entries` oldest first; `next_sequence` is the media sequence when `entries` is empty.

    `event`: an EVENT playlist (the whole live event, DVR) offering delta updates; `skip`: render the
    delta update (EXT-X-SKIP in place of all but the last SKIP_TARGET_DURATIONS target durations).
    `body`/`body_entries`: the first `body_entries` of `entries` already rendered (by `segment_text`
    with `dated` as `render` would choose), so a long playlist costs a join, not a render, per part."""
    skip_until = SKIP_TARGET_DURATIONS * target
    skipped = _skippable(entries, skip_until) if event and skip and low_latency else 0
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{9 if skipped else 6 if low_latency else 3}",
        f"#EXT-X-TARGETDURATION:{target}",
    ]
    if low_latency:
        can_skip = f",CAN-SKIP-UNTIL={skip_until:.1f}" if event else ""
        lines.append(f"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES{can_skip},PART-HOLD-BACK={PART_HOLD_BACK:.3f}")
        lines.append(f"#EXT-X-PART-INF:PART-TARGET={PART_TARGET_ADVERTISED:.3f}")
    lines.append(f"#EXT-X-MEDIA-SEQUENCE:{entries[0].sequence if entries else next_sequence}")
    lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}")
    if vod:
        lines.append("#EXT-X-PLAYLIST-TYPE:VOD")
    elif event:
        lines.append("#EXT-X-PLAYLIST-TYPE:EVENT")
    head = "\n".join(lines) + "\n"
    if skipped:
        head += f"#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}\n"
    elif body_entries:
        head += body
    lines = []
    for index in range(skipped or body_entries, len(entries)):
        entry = entries[index]
        # A date on every VOD segment (archive tools map moments by it); live: on the first listed and
        # after each discontinuity, where carrying it forward by the durations would go wrong.
        dated = vod or index == skipped or entry.discontinuity
        lines.append(segment_text(entry, dated, low_latency))
    if low_latency and preload_hint is not None and not endlist:
        lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{preload_hint}"')
    if endlist:
        lines.append("#EXT-X-ENDLIST")
    return head + "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def segment_text(entry: Entry, dated: bool, low_latency: bool) -> str:
    """One segment's lines (with their newlines): discontinuity, date, parts, EXTINF and URI."""
    lines = []
    if entry.discontinuity:
        lines.append("#EXT-X-DISCONTINUITY")
    if dated and entry.wall > 0:
        moment = datetime.fromtimestamp(entry.wall, UTC).isoformat(timespec="milliseconds")
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{moment.replace('+00:00', 'Z')}")
    if low_latency:
        for part in entry.parts:
            flag = ",INDEPENDENT=YES" if part.independent else ""
            lines.append(f'#EXT-X-PART:DURATION={part.duration:.3f},URI="{part.name}"{flag}')
    if entry.duration is not None:
        lines.append(f"#EXTINF:{entry.duration:.3f},")
        lines.append(entry.name)
    return "".join(line + "\n" for line in lines)


def _skippable(entries: Sequence[Entry], skip_until: float) -> int:
    """How many leading segments a delta update may skip: those ending more than `skip_until` seconds
    before the playlist's end (open parts included). Never one with parts listed."""
    remaining = sum(e.duration if e.duration is not None else sum(p.duration for p in e.parts) for e in entries)
    skipped = 0
    for entry in entries:
        if entry.duration is None or entry.parts or remaining - entry.duration < skip_until:
            break
        remaining -= entry.duration
        skipped += 1
    return skipped


@dataclass(frozen=True)
class Variant:
    """One rendition as the multivariant playlist names it."""

    uri: str
    bandwidth: int  # peak bits per second of a segment (the spec's BANDWIDTH)
    average_bandwidth: int
    codecs: str  # e.g. "avc1.42e01f,mp4a.40.2"
    resolution: tuple[int, int] | None = None
    frame_rate: float | None = None


def render_multivariant(variants: Sequence[Variant], media: Sequence[str] = (), group: str = "") -> str:
    """The multivariant playlist: highest rendition first (players that ignore BANDWIDTH start with it).

    `media`: EXT-X-MEDIA lines (e.g. a WebVTT subtitles rendition: `#EXT-X-MEDIA:TYPE=SUBTITLES,
    GROUP-ID="subs",...`) and `group` the attribute tying each variant to them (`SUBTITLES="subs"`);
    both empty while there is none."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    lines.extend(media)
    for variant in sorted(variants, key=lambda v: -v.bandwidth):
        attrs = [f"BANDWIDTH={variant.bandwidth}", f"AVERAGE-BANDWIDTH={variant.average_bandwidth}"]
        attrs.append(f'CODECS="{variant.codecs}"')
        if variant.resolution is not None:
            attrs.append(f"RESOLUTION={variant.resolution[0]}x{variant.resolution[1]}")
        if variant.frame_rate is not None:
            attrs.append(f"FRAME-RATE={variant.frame_rate:.3f}")
        if group:
            attrs.append(group)
        lines.append("#EXT-X-STREAM-INF:" + ",".join(attrs))
        lines.append(variant.uri)
    return "\n".join(lines) + "\n"


def avc_codec(sps: bytes) -> str | None:
    """RFC 6381 `avc1.PPCCLL` from an SPS NAL unit (header byte first): profile, constraints, level."""
    if len(sps) < 4 or sps[0] & 0x1F != 7:
        return None
    return f"avc1.{sps[1]:02x}{sps[2]:02x}{sps[3]:02x}"


def part_name(sequence: int, index: int) -> str:
    return f"{sequence:06d}.{index}.ts"
