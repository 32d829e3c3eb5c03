"""The live recogniser's timestamp guard (archive/phrases.py): text in a segment that starts after the phrase's
audio ended was never heard, and is dropped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from archive.phrases import SAMPLE_RATE, PhraseRecogniser, heard_ids
from archive.transcript import Transcriber
from tests.captions.speech import RATE, espeak, resample

EOT, TS = 50257, 50364  # Whisper's multilingual end-of-text and first timestamp token
A, B, C = 100, 200, 300  # text tokens


def ts(seconds: float) -> int:
    return TS + round(seconds / 0.02)


def test_segments_that_start_after_the_audio_ended_are_dropped() -> None:
    written = [ts(0.0), A, B, ts(2.0), ts(2.0), C, ts(2.9)]
    assert heard_ids(written, EOT, TS, seconds=3.0) == [A, B, C]
    assert heard_ids(written, EOT, TS, seconds=2.5) == [A, B, C]  # C starts at 2.0, before 2.4: kept
    assert heard_ids(written, EOT, TS, seconds=2.05) == [A, B]  # starts within 0.1 s of the end: dropped
    # An end timestamp followed straight by the next text: that timestamp is the next segment's start.
    assert heard_ids([ts(0.0), A, ts(1.0), B, ts(4.0)], EOT, TS, seconds=1.05) == [A]
    assert heard_ids([A, B], EOT, TS, seconds=1.0) == [A, B]  # no timestamps: from the start
    assert heard_ids([ts(3.0), A, ts(3.5)], EOT, TS, seconds=3.0) == []


@pytest.mark.slow
def test_the_recogniser_drops_what_it_wrote_past_the_phrases_audio(transcriber: Transcriber, tmp_path: Path) -> None:
    """Two sentences with a pause, decoded as one input, but the phrase (its VAD span) is only the first: the
    second sentence lies in what the phrase appended, so none of it may come out."""
    first = espeak("The supervision engineer checks the steel struts.", tmp_path / "a.wav")
    second = espeak("Groundwater rose near the metro tunnel.", tmp_path / "b.wav")
    pause = np.zeros(RATE, np.float32)
    whole = resample(np.concatenate([first, pause, second]), RATE, SAMPLE_RATE)
    first_seconds = len(first) / RATE
    recogniser = PhraseRecogniser(transcriber)
    model = transcriber.model()
    from faster_whisper.tokenizer import Tokenizer

    encoded = recogniser._encode(model, whole)
    tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language="en")
    everything = recogniser._decode(model, encoded, tokenizer, "", len(whole) / SAMPLE_RATE)
    heard = recogniser._decode(model, encoded, tokenizer, "", first_seconds + 0.3)
    assert everything is not None and "tunnel" in everything.lower(), everything
    assert heard is not None and "supervision engineer" in heard.lower(), heard
    assert "tunnel" not in heard.lower() and "groundwater" not in heard.lower(), heard
    # And a whole phrase on its own still reads in full.
    alone = recogniser.recognise(resample(first, RATE, SAMPLE_RATE), {"en": "steel strut, supervision"})
    assert alone is not None and "steel strut" in alone.text.lower(), alone
