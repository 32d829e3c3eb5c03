"""Attendance as spans: one viewer's overlapping connections merged, watch time, concurrent viewers over time.

Plain functions over plain data (epoch seconds); the server records spans and loads them, this module
counts. Spans from several tabs, reconnects and several server processes arrive unmerged: merging
happens here, per viewer and mode, so nobody is counted twice.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

LIVE = "live"
REPLAY = "replay"
MODES = (LIVE, REPLAY)

Interval = tuple[float, float]


@dataclass(frozen=True)
class Span:
    """One viewer on one page for a while. `viewer` is stable per person: "p:<participant id>", "v:<visitor
    id>" (an anonymous browser), or "c:<span id>" (an anonymous connection nobody can recognise again)."""

    viewer: str
    mode: str
    start: float
    end: float


def span_end(ended: float | None, seen: float, now: float, stale_after: float) -> float:
    """Where an unfinished span ends for a report made at `now`.

    A span still open on a running process is refreshed (`seen`) at every flush, so it runs until now; one
    whose process died stops being refreshed, and ends where it was last seen.
    """
    if ended is not None:
        return ended
    return now if now - seen <= stale_after else seen


def merge(intervals: Iterable[Interval], grace: float = 0.0) -> list[Interval]:
    """Sorted, disjoint intervals; gaps no longer than `grace` (a reconnect) are closed."""
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1] + grace:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def by_viewer(spans: Iterable[Span], grace: float) -> dict[str, dict[str, list[Interval]]]:
    """viewer → mode → merged intervals."""
    raw: dict[str, dict[str, list[Interval]]] = defaultdict(lambda: defaultdict(list))
    for s in spans:
        raw[s.viewer][s.mode].append((s.start, s.end))
    return {viewer: {mode: merge(iv, grace) for mode, iv in modes.items()} for viewer, modes in raw.items()}


def clip(intervals: Iterable[Interval], window: Interval | None) -> list[Interval]:
    """The parts of `intervals` inside `window` (None: no window, everything counts)."""
    if window is None:
        return [i for i in intervals if i[1] > i[0]]
    lo, hi = window
    return [(max(s, lo), min(e, hi)) for s, e in intervals if min(e, hi) > max(s, lo)]


def total(intervals: Iterable[Interval]) -> float:
    return sum(e - s for s, e in intervals)


def union_total(*groups: Iterable[Interval]) -> float:
    """Seconds covered by any of the groups, overlaps counted once (live and replay open at once)."""
    return total(merge([i for g in groups for i in g]))


@dataclass(frozen=True)
class Concurrency:
    step: float
    # (bucket start, the most viewers watching at once at any moment of the bucket)
    series: tuple[tuple[float, int], ...]
    peak: int
    peak_at: float | None
    average: float


def bucket_step(duration: float, max_points: int = 240) -> float:
    """One-minute buckets, widened by whole minutes so a long event still draws at most `max_points`."""
    minutes = max(1, -(-int(duration) // (60 * max_points)))
    return 60.0 * minutes


def concurrency(viewers: Iterable[Sequence[Interval]], window: Interval, step: float | None = None) -> Concurrency:
    """Distinct viewers watching at once within `window`; each viewer's intervals must be disjoint (merged)."""
    lo, hi = window
    if hi <= lo:
        return Concurrency(step or 60.0, (), 0, None, 0.0)
    step = step or bucket_step(hi - lo)
    changes: list[tuple[float, int]] = []
    watched = 0.0
    for intervals in viewers:
        for s, e in clip(intervals, window):
            changes.append((s, 1))
            changes.append((e, -1))
            watched += e - s
    # At one instant, leaving comes before arriving: a hand-over is not two viewers at once.
    changes.sort()
    series: list[tuple[float, int]] = []
    count, peak, peak_at, k = 0, 0, None, 0
    bucket = lo
    while bucket < hi:
        top = bucket + step
        while k < len(changes) and changes[k][0] <= bucket:
            count += changes[k][1]
            k += 1
        most = count
        if count > peak:
            peak, peak_at = count, bucket
        while k < len(changes) and changes[k][0] < top:
            count += changes[k][1]
            k += 1
            if count > most:
                most = count
            if count > peak:
                peak, peak_at = count, changes[k - 1][0]
        series.append((bucket, most))
        bucket = top
    return Concurrency(step, tuple(series), peak, peak_at, watched / (hi - lo))


@dataclass(frozen=True)
class Watch:
    """One viewer's time, live (inside the live window) and replay, and how many separate visits."""

    viewer: str
    live: float
    replay: float
    both: float
    visits: int
    first: float | None
    last: float | None


def counted(intervals: Iterable[Interval], window: Interval | None) -> list[Interval]:
    """The parts of `intervals` inside `window`; nothing when there is no window (not live yet, no recording)."""
    return clip(intervals, window) if window is not None else []


def replay_window(live_window: Interval | None, live_ended: bool) -> Interval | None:
    """A recording exists only once the live part ended: replay counts from then on, never before."""
    if live_window is None or not live_ended:
        return None
    return (live_window[1], math.inf)


def watch_times(
    merged: Mapping[str, Mapping[str, list[Interval]]],
    live_window: Interval | None,
    replay_from: Interval | None = None,
) -> dict[str, Watch]:
    """Live time inside the live window only (a scheduled event's page counts nothing), replay inside
    `replay_from` only; `visits` and first/last are of every visit (when they came, counted or not)."""
    out: dict[str, Watch] = {}
    for viewer, modes in merged.items():
        live = counted(modes.get(LIVE, []), live_window)
        replay = counted(modes.get(REPLAY, []), replay_from)
        every = [*modes.get(LIVE, []), *modes.get(REPLAY, [])]
        out[viewer] = Watch(
            viewer=viewer,
            live=total(live),
            replay=total(replay),
            both=union_total(live, replay),
            visits=len(every),
            first=min((s for s, _ in every), default=None),
            last=max((e for _, e in every), default=None),
        )
    return out
