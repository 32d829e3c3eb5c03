"""Moments of the event (wall-clock time) → seconds into its recording.

The recording clock runs only while someone publishes: a publisher who drops and reconnects
continues the recording where it stopped (server/media/timeline.py), so the wall-clock gap is
not in the recording. Each HLS segment knows where it starts on both clocks (segments.log,
EXT-X-PROGRAM-DATE-TIME), which is all the mapping needs: inside a segment the clocks run
together; a moment in a gap (nobody publishing) maps to where the recording resumes.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SEGMENT_LOG = "segments.log"  # written by server/media/hls.py


@dataclass(frozen=True)
class Span:
    """One segment: `start` and `duration` on the recording clock, `wall` the Unix time at its start."""

    start: float
    duration: float
    wall: float
    discontinuity: bool = False

    @property
    def end(self) -> float:
        return self.start + self.duration


def read_spans(directory: Path) -> list[Span]:
    """Segments of a feed directory that exist on disk, in order (torn lines are skipped)."""
    log = directory / SEGMENT_LOG
    if not log.is_file():
        return []
    spans = []
    for line in log.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) not in (5, 6) or not (directory / fields[4]).is_file():
            continue
        try:
            wall = float(fields[5]) if len(fields) == 6 else 0.0
            spans.append(Span(float(fields[1]), float(fields[2]), wall, fields[3] == "1"))
        except ValueError:
            continue
    return spans


class RecordingClock:
    """Maps Unix times onto the recording of one feed."""

    def __init__(self, spans: Iterable[Span]) -> None:
        # Segments written before wall times were logged cannot be placed: leave them out.
        self.spans = sorted((s for s in spans if s.wall > 0), key=lambda s: s.wall)
        self._walls = [s.wall for s in self.spans]

    def __bool__(self) -> bool:
        return bool(self.spans)

    @property
    def end(self) -> float:
        return max((s.end for s in self.spans), default=0.0)

    def seconds_at(self, wall: float) -> float | None:
        """Seconds into the recording showing the moment `wall`; None when there is no recording.

        Before the first segment: its start. In a gap between sessions: where the recording resumes.
        After the last segment: the recording's end."""
        if not self.spans:
            return None
        i = bisect.bisect_right(self._walls, wall) - 1
        if i < 0:
            return self.spans[0].start
        span = self.spans[i]
        offset = wall - span.wall
        if offset <= span.duration:
            return span.start + offset
        if i + 1 < len(self.spans):
            following = self.spans[i + 1]
            # Past this segment's end but before the next one's wall start. Within a session the
            # two nearly touch (arrival jitter), so keep continuity; across a reconnect the
            # recording resumes at the next segment.
            if following.discontinuity:
                return following.start
            return min(span.end, following.start)
        return span.end
