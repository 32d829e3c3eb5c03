"""Attendance spans: merging tabs, reconnects and processes; watch time; concurrent viewers."""

from __future__ import annotations

from archive.attendance import (
    LIVE,
    REPLAY,
    Span,
    bucket_step,
    by_viewer,
    clip,
    concurrency,
    merge,
    replay_window,
    span_end,
    union_total,
    watch_times,
)


def test_two_tabs_overlapping_count_once() -> None:
    assert merge([(0, 100), (30, 60), (50, 120)]) == [(0, 120)]


def test_a_reconnect_within_the_grace_merges_and_a_longer_gap_does_not() -> None:
    assert merge([(0, 100), (104, 200)], grace=5) == [(0, 200)]
    assert merge([(0, 100), (106, 200)], grace=5) == [(0, 100), (106, 200)]


def test_empty_and_backwards_intervals_are_ignored() -> None:
    assert merge([(5, 5), (9, 3)]) == []


def test_overlapping_spans_from_two_processes_count_once() -> None:
    # The same participant on node A (tab 1) and node B (tab 2): each node wrote its own span.
    spans = [Span("p:7", LIVE, 0, 600), Span("p:7", LIVE, 300, 900), Span("p:8", LIVE, 0, 60)]
    merged = by_viewer(spans, grace=10)
    assert merged["p:7"][LIVE] == [(0, 900)]
    times = watch_times(merged, (0, 900))
    assert times["p:7"].live == 900 and times["p:7"].visits == 1
    assert concurrency([m[LIVE] for m in merged.values()], (0, 900), step=300).peak == 2


def test_live_time_is_clipped_to_the_live_window_and_replay_to_after_the_end() -> None:
    merged = by_viewer([Span("p:1", LIVE, -300, 120), Span("p:1", REPLAY, 5000, 5600)], grace=0)
    w = watch_times(merged, (0, 3600), replay_window((0, 3600), live_ended=True))["p:1"]
    assert (w.live, w.replay, w.both, w.visits, w.first, w.last) == (120, 600, 720, 2, -300, 5600)


def test_visits_to_a_scheduled_event_count_neither_live_nor_replay() -> None:
    # The pages of an event that has not gone live: open for a while, but nobody watched anything.
    merged = by_viewer([Span("v:a", LIVE, 0, 17), Span("v:b", REPLAY, 0, 30)], grace=0)
    times = watch_times(merged, None, replay_window(None, live_ended=False))
    assert times["v:a"].live == 0 and times["v:b"].replay == 0


def test_replay_counts_only_once_the_recording_exists() -> None:
    # The archive page opened while the event was still live (no recording yet) counts nothing.
    merged = by_viewer([Span("p:1", REPLAY, 100, 200)], grace=0)
    assert watch_times(merged, (0, 3600), replay_window((0, 3600), live_ended=False))["p:1"].replay == 0
    assert watch_times(merged, (0, 150), replay_window((0, 150), live_ended=True))["p:1"].replay == 50


def test_union_counts_simultaneous_live_and_replay_once() -> None:
    assert union_total([(0, 100)], [(50, 150)]) == 150


def test_clip_without_a_window_keeps_everything() -> None:
    assert clip([(1, 2), (3, 3)], None) == [(1, 2)]


def test_open_span_runs_to_now_while_its_process_refreshes_it_and_ends_where_last_seen_otherwise() -> None:
    assert span_end(50.0, 40.0, 1000.0, 30.0) == 50.0
    assert span_end(None, 990.0, 1000.0, 30.0) == 1000.0
    assert span_end(None, 900.0, 1000.0, 30.0) == 900.0


def test_concurrency_series_peak_and_average() -> None:
    viewers = [[(0, 180)], [(60, 120)], [(90, 240)], [(120, 125)]]
    c = concurrency(viewers, (0, 240), step=60)
    # minute 0: 1; minute 1: 3 at 90; minute 2: 3 at 120 (one leaves as another arrives); minute 3: 1
    assert c.series == ((0, 1), (60, 3), (120, 3), (180, 1))
    assert c.peak == 3 and c.peak_at == 90
    assert c.average == (180 + 60 + 150 + 5) / 240


def test_a_hand_over_at_one_instant_is_not_two_viewers() -> None:
    c = concurrency([[(0, 60)], [(60, 120)]], (0, 120), step=30)
    assert c.peak == 1


def test_empty_window() -> None:
    c = concurrency([[(0, 10)]], (10, 10))
    assert c.series == () and c.peak == 0 and c.peak_at is None


def test_bucket_step_widens_for_long_events() -> None:
    assert bucket_step(3600) == 60
    assert bucket_step(4 * 3600) == 60
    assert bucket_step(5 * 3600) == 120
