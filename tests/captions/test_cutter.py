"""Phrases out of the programme audio (server/captions/cutter.py): where they start and end."""

from __future__ import annotations

import numpy as np

from server.captions.cutter import END_SILENCE_SECONDS, MAX_PHRASE_SECONDS, SAMPLE_RATE, PhraseCutter


def tone(seconds: float, level: float = 0.2) -> np.ndarray:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (level * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def quiet(seconds: float, level: float = 0.001) -> np.ndarray:
    return (level * np.random.default_rng(1).standard_normal(round(seconds * SAMPLE_RATE))).astype(np.float32)


def feed(cutter: PhraseCutter, audio: np.ndarray, start: float = 10.0, chunk: float = 0.02):
    cuts = []
    step = round(chunk * SAMPLE_RATE)
    for i in range(0, len(audio), step):
        cuts += cutter.push(audio[i : i + step], start + i / SAMPLE_RATE)
    return cuts


def test_a_phrase_between_pauses_is_cut_final_on_the_recording_clock_with_interims_while_it_grows() -> None:
    audio = np.concatenate([quiet(1.0), tone(3.2), quiet(1.0), tone(1.0), quiet(1.0)])
    cuts = feed(PhraseCutter(), audio)
    finals = [c for c in cuts if c.final]
    assert [c.phrase for c in finals] == [1, 2]
    assert abs(finals[0].end - 14.2) < 0.05 and abs(finals[0].start - 11.0) < 0.25
    assert abs(finals[1].start - 15.2) < 0.25 and abs(finals[1].end - 16.2) < 0.05
    interims = [c for c in cuts if not c.final]
    assert (
        interims and all(c.phrase == 1 for c in interims[:2]) and all(c.start == finals[0].start for c in interims[:2])
    )


def test_the_final_comes_once_the_pause_is_long_enough_not_at_a_short_breath() -> None:
    cutter = PhraseCutter()
    audio = np.concatenate([quiet(0.5), tone(1.0), quiet(END_SILENCE_SECONDS / 2), tone(1.0), quiet(0.1)])
    assert not [c for c in feed(cutter, audio) if c.final]
    assert [c.final for c in feed(cutter, quiet(END_SILENCE_SECONDS + 0.05), start=13.0)] == [True]


def test_an_unbroken_stretch_is_cut_at_the_maximum_and_a_clock_jump_or_the_end_closes_the_phrase() -> None:
    cutter = PhraseCutter()
    cuts = feed(cutter, np.concatenate([quiet(0.5), tone(MAX_PHRASE_SECONDS + 2)]))
    assert next(c for c in cuts if c.final).end - cuts[0].start <= MAX_PHRASE_SECONDS + 0.05
    jumped = feed(cutter, tone(0.5), start=100.0)  # a publisher reconnected: the recording clock moved on
    assert [c.final for c in jumped if c.final] == [True]
    assert [c.final for c in cutter.flush()] == [True]
    assert cutter.flush() == []


def test_clicks_and_room_noise_are_no_phrase() -> None:
    audio = np.concatenate([quiet(2.0, 0.02), tone(0.1), quiet(2.0, 0.02)])
    assert [c for c in feed(PhraseCutter(), audio) if c.final] == []
