"""NTP time for outgoing RTP: abs-send-time on every packet, sender reports once a second."""

from __future__ import annotations

import time
from collections.abc import Callable

NTP_UNIX_OFFSET_NS = 2_208_988_800 * 1_000_000_000  # 1900-01-01 → 1970-01-01
NS_PER_SECOND = 1_000_000_000


class NtpClock:
    """Wall-clock NTP time (64-bit, 32.32 fixed point) that advances with the monotonic clock.

    Read once per frame per viewer, so it must be cheap (aiortc's goes through `datetime`),
    and steady: abs-send-time deltas and sender reports must not jump when the system clock
    is stepped.
    """

    def __init__(
        self, wall_ns: Callable[[], int] = time.time_ns, monotonic_ns: Callable[[], int] = time.monotonic_ns
    ) -> None:
        self._monotonic_ns = monotonic_ns
        self._offset_ns = wall_ns() + NTP_UNIX_OFFSET_NS - monotonic_ns()

    def now(self) -> int:
        return ((self._monotonic_ns() + self._offset_ns) << 32) // NS_PER_SECOND

    def seconds(self) -> float:
        return (self._monotonic_ns() + self._offset_ns) / NS_PER_SECOND


def ntp_from_seconds(seconds: float) -> int:
    return round(seconds * 2**32)


def abs_send_time(ntp: int) -> int:
    """The abs-send-time header extension: 6.18 fixed-point seconds, 24 bits."""
    return (ntp >> 14) & 0xFFFFFF
