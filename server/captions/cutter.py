"""The programme's audio (16 kHz mono) cut into phrases: stretches of speech between pauses.

An energy detector with an adaptive noise floor, per 20 ms frame: cheap enough to run in the media
writer thread for every event (a few microseconds per frame), and what decides a caption's latency —
a phrase is final once the speaker has paused END_SILENCE_SECONDS. Noise that passes it is no
problem for correctness: Whisper's no-speech judgement and the guards drop what was not speech.

Synchronous and single-threaded; times are seconds on the recording clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16_000
FRAME_SAMPLES = 320  # 20 ms
# A pause this long ends a phrase: long enough not to split a sentence at a comma, short enough for
# a final caption within 2 s of the speaker stopping (pause + transcription ≈ 0.6 + 0.5 s).
END_SILENCE_SECONDS = 0.6
# A phrase is cut here even without a pause, so a caption never waits on a long unbroken stretch.
MAX_PHRASE_SECONDS = 10.0
# Speech shorter than this (a cough, a click) is not a phrase.
MIN_SPEECH_SECONDS = 0.25
# Consecutive loud frames that start a phrase, and audio kept from before it (the first consonant).
START_FRAMES = 3
PRE_ROLL_SECONDS = 0.4
# An interim caption of the phrase so far, each time it has grown by this much.
INTERIM_EVERY_SECONDS = 1.5
# Levels (RMS of float samples in [-1, 1]): speech is louder than MIN_SPEECH_RMS (≈ -42 dBFS) and
# NOISE_MARGIN times the noise floor, which follows the quiet frames.
MIN_SPEECH_RMS = 0.008
NOISE_MARGIN = 3.0
NOISE_ADAPT = 0.05
# A jump in the recording clock larger than this (a publisher reconnected) ends the open phrase.
CLOCK_GAP_SECONDS = 0.25


@dataclass(frozen=True)
class Cut:
    phrase: int  # 1, 2, … per cutter
    final: bool
    start: float
    end: float
    samples: np.ndarray  # float32, 16 kHz mono


class PhraseCutter:
    def __init__(self) -> None:
        self._phrase = 0
        self._noise = MIN_SPEECH_RMS / NOISE_MARGIN
        self._pending = np.zeros(0, np.float32)  # samples not yet a whole frame
        self._next_time: float | None = None  # recording time of the next sample
        self._pre: deque[np.ndarray] = deque(maxlen=round(PRE_ROLL_SECONDS * SAMPLE_RATE / FRAME_SAMPLES))
        self._loud_run = 0
        self._frames: list[np.ndarray] = []  # the open phrase
        self._start = 0.0
        self._last_speech_end = 0.0
        self._speech_frames = 0
        self._silent_frames = 0
        self._interim_at = 0

    @property
    def open(self) -> bool:
        return bool(self._frames)

    def push(self, samples: np.ndarray, start: float) -> list[Cut]:
        cuts: list[Cut] = []
        if self._next_time is not None and abs(start - self._next_time) > CLOCK_GAP_SECONDS:
            cuts += self.flush()
            self._pending = np.zeros(0, np.float32)
        if self._next_time is None or abs(start - self._next_time) > CLOCK_GAP_SECONDS:
            self._next_time = start - len(self._pending) / SAMPLE_RATE
        data = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        whole = len(data) - len(data) % FRAME_SAMPLES
        self._pending = data[whole:]
        for i in range(0, whole, FRAME_SAMPLES):
            cut = self._frame(data[i : i + FRAME_SAMPLES])
            if cut is not None:
                cuts.append(cut)
        return cuts

    def flush(self) -> list[Cut]:
        """The open phrase as final (the stream ended or jumped)."""
        cut = self._close()
        return [cut] if cut is not None else []

    def _frame(self, frame: np.ndarray) -> Cut | None:
        assert self._next_time is not None
        at = self._next_time
        self._next_time = at + FRAME_SAMPLES / SAMPLE_RATE
        rms = float(np.sqrt(np.mean(frame * frame)))
        loud = rms > max(MIN_SPEECH_RMS, self._noise * NOISE_MARGIN)
        if not loud:
            self._noise += NOISE_ADAPT * (rms - self._noise)
        if not self._frames:
            self._pre.append(frame)
            self._loud_run = self._loud_run + 1 if loud else 0
            if self._loud_run >= START_FRAMES:
                self._frames = list(self._pre)
                # The line starts where the speech did; the samples keep the pre-roll before it.
                self._start = self._next_time - self._loud_run * FRAME_SAMPLES / SAMPLE_RATE
                self._speech_frames = self._loud_run
                self._silent_frames = 0
                self._last_speech_end = self._next_time
                self._interim_at = len(self._frames)
                self._pre.clear()
                self._loud_run = 0
            return None
        self._frames.append(frame)
        if loud:
            self._speech_frames += 1
            self._silent_frames = 0
            self._last_speech_end = self._next_time
        else:
            self._silent_frames += 1
        if self._silent_frames * FRAME_SAMPLES / SAMPLE_RATE >= END_SILENCE_SECONDS:
            return self._close()
        if len(self._frames) * FRAME_SAMPLES / SAMPLE_RATE >= MAX_PHRASE_SECONDS:
            return self._close()
        if (len(self._frames) - self._interim_at) * FRAME_SAMPLES >= INTERIM_EVERY_SECONDS * SAMPLE_RATE:
            self._interim_at = len(self._frames)
            return Cut(self._phrase + 1, False, self._start, self._next_time, np.concatenate(self._frames))
        return None

    def _close(self) -> Cut | None:
        frames, self._frames = self._frames, []
        if not frames or self._speech_frames * FRAME_SAMPLES / SAMPLE_RATE < MIN_SPEECH_SECONDS:
            return None
        # Keep the phrase up to its last loud frame and a little of the pause after it.
        keep = len(frames) - max(0, self._silent_frames - round(0.1 * SAMPLE_RATE / FRAME_SAMPLES))
        self._phrase += 1
        return Cut(self._phrase, True, self._start, self._last_speech_end, np.concatenate(frames[:keep]))
