"""Maps each track's RTP timestamps onto one recording clock shared by audio and video.

Every publisher session anchors each track at the wall-clock time its first frame arrived
(the time it left aiortc's jitter buffer, less that buffer's known delay), so audio and
video of one session line up to within network jitter, and a reconnecting publisher
continues the recording where the previous session stopped (timestamps never go
backwards, so the archive remuxes cleanly).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

# Time between the end of one publisher session and the start of the next on the recording
# clock: a short gap keeps timestamps strictly increasing across the discontinuity.
SESSION_GAP_SECONDS = 0.1


@dataclass
class _Anchor:
    rtp_origin: int
    recording_start: float


class Timeline:
    """Recording clock in seconds; one instance per feed, one `session()` per publisher."""

    def __init__(self, now: Callable[[], float] = time.monotonic, resume_at: float = 0.0) -> None:
        self._now = now
        self._end = resume_at  # latest recording time handed out, over all sessions
        self._session_wall: float | None = None
        self._session_base = 0.0
        self._anchors: dict[str, _Anchor] = {}
        self._started = resume_at > 0
        self._shared_origin = False

    def new_session(self, shared_origin: bool = False) -> None:
        """`shared_origin`: every track's RTP timestamps count from 0 at one instant (the programme's
        compositor stamps audio and video on one clock), so no track is anchored at its arrival."""
        self._session_wall = None
        self._anchors = {}
        self._shared_origin = shared_origin

    def at(self, track: str, rtp_timestamp: int, clock_rate: int, buffered_seconds: float = 0.0) -> float:
        """Recording time (seconds) of a frame of `track` with an unwrapped RTP timestamp.

        `buffered_seconds` is how long the track's first frame waited in the receiver before
        reaching us; subtracting it puts both tracks' anchors at (about) their arrival time.
        """
        anchor = self._anchors.get(track)
        if anchor is None:
            wall = self._now() - buffered_seconds
            if self._session_wall is None:
                self._session_wall = wall
                self._session_base = self._end + SESSION_GAP_SECONDS if self._started else 0.0
                self._started = True
            if self._shared_origin:
                anchor = _Anchor(0, self._session_base)
            else:
                anchor = _Anchor(rtp_timestamp, self._session_base + (wall - self._session_wall))
            self._anchors[track] = anchor
        seconds = anchor.recording_start + (rtp_timestamp - anchor.rtp_origin) / clock_rate
        self._end = max(self._end, seconds)
        return seconds
