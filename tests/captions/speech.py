"""Generated speech for the captions tests: espeak-ng phrases, and a WebRTC track that speaks them."""

from __future__ import annotations

import asyncio
import fractions
import shutil
import subprocess
import time
import wave
from pathlib import Path

import av
import numpy as np
from aiortc import MediaStreamTrack

RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms


def espeak(text: str, path: Path, voice: str = "en") -> np.ndarray:
    """`text` spoken by espeak-ng, as 48 kHz mono float32."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise RuntimeError("espeak-ng is not installed")
    subprocess.run([binary, "-v", voice, "-w", str(path), text], check=True, capture_output=True)
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768
    return resample(pcm, rate, RATE)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return samples
    n = round(len(samples) * target / rate)
    return np.interp(np.arange(n) * rate / target, np.arange(len(samples)), samples).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), np.float32)


class Script:
    """Phrases separated by pauses; knows where each phrase ends in its own timeline (seconds)."""

    def __init__(self, phrases: list[np.ndarray], pause: float = 1.5, lead: float = 0.5, tail: float = 3.0) -> None:
        parts = [silence(lead)]
        self.phrase_ends: list[float] = []
        position = lead
        for phrase in phrases:
            parts.append(phrase)
            position += len(phrase) / RATE
            self.phrase_ends.append(position)
            parts.append(silence(pause))
            position += pause
        parts.append(silence(tail))
        self.samples = np.concatenate(parts)

    @property
    def seconds(self) -> float:
        return len(self.samples) / RATE


class SpeechTrack(MediaStreamTrack):
    """Plays a Script in real time (48 kHz stereo s16, 20 ms frames), then silence.

    `started_at`: time.time() when the first frame was handed to aiortc, so a test knows the wall
    time of each phrase's end; `started_monotonic` the same moment on CLOCK_MONOTONIC."""

    kind = "audio"

    def __init__(self, script: Script) -> None:
        super().__init__()
        self.script = script
        self._samples = 0
        self._start: float | None = None
        self.started_at: float | None = None
        self.started_monotonic: float | None = None
        # (samples handed over so far, time.monotonic() then) per frame: when each moment of the script
        # really left the track, which is later than planned when the loop runs late.
        self.handed: list[tuple[int, float]] = []

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = self.started_monotonic = time.monotonic()
            self.started_at = time.time()
        target = self._start + self._samples / RATE
        await asyncio.sleep(max(0.0, target - time.monotonic()))
        chunk = self.script.samples[self._samples : self._samples + FRAME_SAMPLES]
        if len(chunk) < FRAME_SAMPLES:
            chunk = np.concatenate([chunk, np.zeros(FRAME_SAMPLES - len(chunk), np.float32)])
        pcm = (np.clip(chunk, -1, 1) * 32767).astype(np.int16)
        frame = av.AudioFrame(format="s16", layout="stereo", samples=FRAME_SAMPLES)
        frame.planes[0].update(np.repeat(pcm, 2).tobytes())
        frame.pts, frame.sample_rate = self._samples, RATE
        frame.time_base = fractions.Fraction(1, RATE)
        self._samples += FRAME_SAMPLES
        self.handed.append((self._samples, time.monotonic()))
        return frame

    def handed_at(self, seconds: float) -> float | None:
        """time.monotonic() when the sample `seconds` into the script was handed over (None: not yet)."""
        wanted = round(seconds * RATE)
        return next((at for count, at in self.handed if count >= wanted), None)
