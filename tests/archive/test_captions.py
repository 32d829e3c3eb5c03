from __future__ import annotations

from archive.captions import Cue, srt, timestamp, webvtt


def test_timestamps() -> None:
    assert timestamp(0) == "00:00:00.000"
    assert timestamp(3725.4567) == "01:02:05.457"
    assert timestamp(12.5, ",") == "00:00:12,500"
    assert timestamp(-1) == "00:00:00.000"


def test_webvtt_escapes_and_keeps_cues_well_formed() -> None:
    text = webvtt(
        [
            Cue(1.0, 2.5, "基坑 <b>开挖</b> & 降水", id="q7"),
            Cue(3.0, 3.0, "a --> b\n\nc"),  # zero length, arrow and blank line in the text
            Cue(4.0, 5.0, "   "),  # nothing to show
        ]
    )
    assert text.startswith("WEBVTT\n\n")
    assert "q7\n00:00:01.000 --> 00:00:02.500\n基坑 &lt;b&gt;开挖&lt;/b&gt; &amp; 降水" in text
    assert "00:00:03.000 --> 00:00:03.500\na → b c" in text
    assert text.count("-->") == 2


def test_srt_numbers_cues_from_one() -> None:
    text = srt([Cue(0.0, 1.0, "first"), Cue(61.0, 62.25, "second <kept>")])
    assert text == "1\n00:00:00,000 --> 00:00:01,000\nfirst\n\n2\n00:01:01,000 --> 00:01:02,250\nsecond <kept>\n"
    assert srt([]) == ""
