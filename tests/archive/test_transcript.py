"""Speech generated now (espeak-ng, English, known text) → recorded by our HLS writer → transcribed.

Word error rate ≤ 15 %, every line within 1 s of where its utterance really is on the recording."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from archive.glossary import hotwords
from archive.transcript import Cancelled, Line, Transcriber, Word, merge_fragments, split_lines
from tests.archive.recordings import Session, compose, record, requires_tools, word_error_rate, write_wav

pytestmark = [pytest.mark.slow, pytest.mark.media, requires_tools]

UTTERANCES = (
    "Please check the settlement monitoring data every morning.",
    "Stop the excavation if the cracks in the nearby building grow wider.",
    "The shield tunnel passes under the metro line.",
)
# The recording starts this far into the recording clock (the publisher's first keyframe), and a
# reconnect puts a seam between the second and third utterance.
RECORDING_STARTS_AT = 0.25


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[float, float, str]]]:
    work = tmp_path_factory.mktemp("speech")
    samples, marks = compose(UTTERANCES)
    seconds = len(samples) / 16_000
    seam = (marks[1].end + marks[2].start) / 2
    sessions = [
        Session(0.0, seam, RECORDING_STARTS_AT, 1_000.0),
        # The publisher dropped for a minute: the recording resumes 0.1 s after it stopped.
        Session(seam, seconds, RECORDING_STARTS_AT + seam + 0.1, 1_060.0 + seam),
    ]
    directory = record(
        work / "rec", sessions, write_wav(work / "speech.wav", samples), seconds, work / "tmp", finish=True
    )
    expected = []
    for mark in marks:
        shift = RECORDING_STARTS_AT + (0.1 if mark.start > seam else 0.0)
        expected.append((mark.start + shift, mark.end + shift, mark.text))
    return directory / "index.m3u8", expected


def test_transcript_of_generated_speech_is_accurate_and_well_timed(
    transcriber: Transcriber, recording: tuple[Path, list[tuple[float, float, str]]]
) -> None:
    playlist, expected = recording
    progress: list[float] = []
    lines = transcriber.transcribe(playlist, hotwords("基坑开挖答疑", "Pit excavation Q&A", ["基坑"]), progress.append)
    text = " ".join(line.text for line in lines)
    assert word_error_rate(" ".join(UTTERANCES), text) <= 0.15, text
    assert len(lines) == len(expected), lines
    for line, (start, end, said) in zip(lines, expected, strict=True):
        assert abs(line.start - start) <= 1.0, (line, start, said)
        assert abs(line.end - end) <= 1.0, (line, end, said)
        assert line.language == "en"
    assert progress and progress == sorted(progress) and progress[-1] < 1.0


def test_a_stopped_transcription_gives_up(
    transcriber: Transcriber, recording: tuple[Path, list[tuple[float, float, str]]]
) -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        transcriber.transcribe(recording[0], stop=stop)


def test_lines_break_at_sentences_and_pauses_and_fragments_rejoin() -> None:
    words = [
        Word(0.0, 0.4, " Dewatering", 0),
        Word(0.4, 1.2, " stopped.", 0),
        Word(1.2, 1.6, " Then", 0),
        Word(1.6, 2.0, " we", 0),
        Word(3.5, 3.9, " waited", 1),  # after a pause: a new utterance
    ]
    assert [t for _, _, t in split_lines(words)] == ["Dewatering stopped.", "Then we", "waited"]
    lines = [Line(0.0, 4.0, "en", "and how to evacuate"), Line(4.1, 4.6, "en", "people.")]
    assert merge_fragments(lines) == [Line(0.0, 4.6, "en", "and how to evacuate people.")]
    zh = [Line(0.0, 3.0, "zh", "基坑开挖"), Line(3.1, 3.5, "zh", "引起的沉降。")]
    assert merge_fragments(zh)[0].text == "基坑开挖引起的沉降。"
