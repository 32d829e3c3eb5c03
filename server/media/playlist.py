"""Media playlists as text: live (Low-Latency HLS: parts, preload hint, server control) and VOD.

Pure: the writer hands in what it has written, this renders it. One playlist serves every client:
players that know LL-HLS (hls.js `lowLatencyMode`, Safari) follow the parts and block on the next
one; the others ignore the EXT-X-PART tags and load whole segments as before.
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
) -> str:
    """`entries` oldest first; `next_sequence` is the media sequence when `entries` is empty."""
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{6 if low_latency else 3}",
        f"#EXT-X-TARGETDURATION:{target}",
    ]
    if low_latency:
        lines.append(f"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={PART_HOLD_BACK:.3f}")
        lines.append(f"#EXT-X-PART-INF:PART-TARGET={PART_TARGET_ADVERTISED:.3f}")
    lines.append(f"#EXT-X-MEDIA-SEQUENCE:{entries[0].sequence if entries else next_sequence}")
    lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}")
    if vod:
        lines.append("#EXT-X-PLAYLIST-TYPE:VOD")
    for entry in entries:
        if entry.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        if entry.wall > 0:
            moment = datetime.fromtimestamp(entry.wall, UTC).isoformat(timespec="milliseconds")
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{moment.replace('+00:00', 'Z')}")
        if low_latency:
            for part in entry.parts:
                flag = ",INDEPENDENT=YES" if part.independent else ""
                lines.append(f'#EXT-X-PART:DURATION={part.duration:.3f},URI="{part.name}"{flag}')
        if entry.duration is not None:
            lines.append(f"#EXTINF:{entry.duration:.3f},")
            lines.append(entry.name)
    if low_latency and preload_hint is not None and not endlist:
        lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{preload_hint}"')
    if endlist:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def part_name(sequence: int, index: int) -> str:
    return f"{sequence:06d}.{index}.ts"
