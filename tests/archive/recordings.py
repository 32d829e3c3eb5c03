"""Test media made at test time: speech from espeak-ng, encoded by ffmpeg, recorded by our own HLS
writer (server/media/hls.py), so the archive reads exactly what a live event leaves behind."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest

from server.media.hls import HlsWriter

RATE = 16_000
requires_tools = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None, reason="Debian packages espeak-ng, ffmpeg"
)


def speak(text: str, voice: str = "en-us", words_per_minute: int = 145) -> np.ndarray:
    """espeak-ng's rendering of `text`, 16 kHz mono float32."""
    raw = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "--stdout", text],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    with wave.open(io.BytesIO(raw)) as w:
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768
    n = int(len(data) * RATE / rate)
    return np.interp(np.linspace(0, len(data) - 1, n), np.arange(len(data)), data).astype(np.float32)


@dataclass(frozen=True)
class Utterance:
    text: str
    start: float  # seconds into the audio
    end: float


def compose(
    texts: Sequence[str], lead: float = 1.0, gap: float = 1.5, tail: float = 1.0
) -> tuple[np.ndarray, list[Utterance]]:
    """The utterances one after another with silence between; where each one is."""
    parts = [np.zeros(int(lead * RATE), np.float32)]
    marks = []
    at = lead
    for text in texts:
        voice = speak(text)
        marks.append(Utterance(text, at, at + len(voice) / RATE))
        parts += [voice, np.zeros(int(gap * RATE), np.float32)]
        at += len(voice) / RATE + gap
    parts.append(np.zeros(int(tail * RATE), np.float32))
    return np.concatenate(parts), marks


def write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())
    return path


@dataclass(frozen=True)
class Session:
    """One publisher session: media seconds [media_from, media_to) of the sources, recorded from
    `recording_at` on the recording clock, captured at Unix time `wall_at`."""

    media_from: float
    media_to: float
    recording_at: float
    wall_at: float


def record(
    directory: Path,
    sessions: Sequence[Session],
    wav: Path | None,
    seconds: float,
    work: Path,
    segment_seconds: float = 1.0,
    finish: bool = False,
) -> Path:
    """Write a feed directory (segments, segments.log, live playlist) as the media side would.

    `wav` None records video only (no audio track)."""
    work.mkdir(parents=True, exist_ok=True)
    video = work / "video.h264"
    source = f"testsrc=size=160x120:rate=15:duration={seconds}"
    encode = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "15", "-bf", "0", "-f", "h264", str(video)]
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", source, *encode], check=True, timeout=600
    )
    audio_packets: list[tuple[float, bytes]] = []
    extradata = None
    if wav is not None:
        m4a = work / "audio.m4a"
        subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), "-t", str(seconds), "-c:a", "aac",
             "-ar", "48000", "-ac", "1", str(m4a)],
            check=True, timeout=600,
        )  # fmt: skip
        with av.open(str(m4a)) as container:
            stream = container.streams.audio[0]
            extradata = bytes(stream.codec_context.extradata)
            audio_packets = [
                (float(p.pts * p.time_base), bytes(p)) for p in container.demux(stream) if p.pts is not None and p.size
            ]
    with av.open(str(video)) as container:
        frames = [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]
    video_packets = [(i / 15, data, _is_idr(data)) for i, data in enumerate(frames)]

    clock = {"wall": 0.0}
    writer = HlsWriter(directory, segment_seconds, wall_clock=lambda: clock["wall"])
    if extradata is not None:
        writer.set_audio_config(extradata)
    for session in sessions:
        shift = session.recording_at - session.media_from
        events = [(t, 0, data, key) for t, data, key in video_packets if session.media_from <= t < session.media_to]
        events += [(t, 1, data, None) for t, data in audio_packets if session.media_from <= t < session.media_to]
        started = False
        for t, kind, data, key in sorted(events, key=lambda e: (e[0], e[1])):
            if kind == 0:
                if not started and not key:
                    continue
                started = True
                clock["wall"] = session.wall_at + (t - session.media_from)
                writer.write_video(data, t + shift, bool(key))
            elif started:
                writer.write_audio(data, t + shift)
        writer.discontinuity()
    if finish:
        writer.finish(remux=False)
    return directory


def _is_idr(data: bytes) -> bool:
    return any(nal[0] & 0x1F == 5 for nal in re.split(rb"\x00\x00\x01", data)[1:] if nal)


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i in range(1, len(ref) + 1):
        previous, row[0] = row[0], i
        for j in range(1, len(hyp) + 1):
            current = min(row[j] + 1, row[j - 1] + 1, previous + (ref[i - 1] != hyp[j - 1]))
            previous, row[j] = row[j], current
    return row[len(hyp)] / max(len(ref), 1)
