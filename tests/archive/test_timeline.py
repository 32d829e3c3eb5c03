"""Wall-clock moments → seconds into the recording, across reconnects."""

from __future__ import annotations

from pathlib import Path

from archive.timeline import RecordingClock, Span, read_spans


def clock() -> RecordingClock:
    # Session 1: recording 0.3–3.3 s, captured from t=1000. The publisher drops at 1003 and comes
    # back at 1063.3: the recording resumes at 3.4 s (0.1 s gap).
    return RecordingClock(
        [
            Span(0.3, 1.0, 1000.0),
            Span(1.3, 1.0, 1001.0),
            Span(2.3, 1.0, 1002.0),
            Span(3.4, 1.0, 1063.3, discontinuity=True),
            Span(4.4, 1.0, 1064.3),
        ]
    )


def test_moments_inside_the_recording_map_linearly() -> None:
    c = clock()
    assert c.seconds_at(1000.0) == 0.3
    assert abs(c.seconds_at(1001.5) - 1.8) < 1e-9  # type: ignore[operator]
    assert abs(c.seconds_at(1064.0) - 4.1) < 1e-9  # type: ignore[operator]


def test_moments_outside_the_recording_snap_to_where_it_shows_them_next() -> None:
    c = clock()
    assert c.seconds_at(900.0) == 0.3  # before the stream started
    assert c.seconds_at(1030.0) == 3.4  # while the publisher was away: where it resumed
    assert c.seconds_at(2000.0) == 5.4  # after the end
    assert c.end == 5.4
    assert RecordingClock([]).seconds_at(1000.0) is None


def test_arrival_jitter_between_segments_of_one_session_stays_continuous() -> None:
    c = RecordingClock([Span(0.0, 1.0, 100.0), Span(1.0, 1.0, 101.05)])
    assert c.seconds_at(101.02) == 1.0


def test_read_spans_reads_old_and_new_logs_and_skips_torn_lines(tmp_path: Path) -> None:
    for name in ("000000.ts", "000001.ts", "000002.ts"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "segments.log").write_text(
        "0 0.300000 1.000000 0 000000.ts\n"  # written before wall times were kept
        "1 1.300000 1.000000 0 000001.ts 1001.000\n"
        "2 2.300000 1.000000 1 000002.ts 1002.5\n"
        "3 3.300000 1.0000\n"  # torn by a crash
        "4 4.300000 1.000000 0 000009.ts 1004.000\n",  # its segment never reached the disk
        encoding="utf-8",
    )
    spans = read_spans(tmp_path)
    assert spans == [Span(0.3, 1.0, 0.0), Span(1.3, 1.0, 1001.0), Span(2.3, 1.0, 1002.5, True)]
    assert len(RecordingClock(spans).spans) == 2  # the one without a wall time cannot be placed
