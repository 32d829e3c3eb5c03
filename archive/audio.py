"""The recording's sound as 16 kHz mono blocks, placed on the recording clock.

Each decoded frame lands at its own timestamp (seconds into the recording), so a transcript line's
time is the moment the player shows; gaps (a publisher reconnecting) become silence. The recording
is handed over in blocks of about ten minutes, cut at the quietest moment near the boundary, so
memory stays flat however long the event ran. Synchronous: runs in a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from archive.jobs import JobFailed

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
BLOCK_SECONDS = 600.0
# A block is cut at the quietest 50 ms within its last 20 s, so no word is split in two.
CUT_SEARCH_SECONDS = 20.0
CUT_WINDOW_SECONDS = 0.05
# Timestamps within this of where the last frame ended are continuous (resampler delay, rounding).
CONTINUITY_TOLERANCE_SECONDS = 0.1
# A recording whose packets mostly fail to decode is corrupt, not merely scratched.
MAX_BAD_PACKET_SHARE = 0.5


@dataclass(frozen=True)
class Block:
    start: float  # recording seconds of samples[0]
    samples: np.ndarray  # float32, mono, SAMPLE_RATE

    @property
    def end(self) -> float:
        return self.start + len(self.samples) / SAMPLE_RATE


def recording_duration(path: Path) -> float:
    """The recording's end on its own clock (0 when nothing can be read)."""
    try:
        with av.open(str(path)) as container:
            if container.duration is None:
                return 0.0
            start = (container.start_time or 0) / av.time_base
            return float(start + container.duration / av.time_base)
    except (av.FFmpegError, OSError):
        return 0.0


def blocks(path: Path, block_seconds: float = BLOCK_SECONDS) -> Iterator[Block]:
    """Decode `path` (the archive playlist or an MP4) into blocks; JobFailed when it cannot be."""
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise JobFailed(f"the recording could not be opened: {exc}") from None
    with container:
        if not container.streams.audio:
            raise JobFailed("the recording has no audio track: nothing to transcribe")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        pending: list[np.ndarray] = []
        pending_len = 0
        block_start = 0.0
        cursor = 0  # next sample index on the recording clock
        block_len = int(block_seconds * SAMPLE_RATE)
        bad = total = 0
        for packet in _packets(container, stream):
            total += 1
            try:
                frames = packet.decode()
            except av.FFmpegError:
                bad += 1  # a damaged packet: a moment of silence, not a failed archive
                continue
            for frame in frames:
                if frame.pts is None or frame.time is None:
                    continue
                at = round(float(frame.time) * SAMPLE_RATE)
                samples = np.concatenate([f.to_ndarray().reshape(-1) for f in resampler.resample(frame)] or [_empty()])
                if at - cursor > CONTINUITY_TOLERANCE_SECONDS * SAMPLE_RATE:
                    gap = np.zeros(at - cursor, dtype=np.float32)
                    pending.append(gap)
                    pending_len += len(gap)
                    cursor = at
                elif cursor - at > CONTINUITY_TOLERANCE_SECONDS * SAMPLE_RATE:
                    samples = samples[cursor - at :]  # overlaps what we already have
                pending.append(samples.astype(np.float32, copy=False))
                pending_len += len(samples)
                cursor += len(samples)
                if pending_len >= block_len + CUT_SEARCH_SECONDS * SAMPLE_RATE:
                    audio = np.concatenate(pending)
                    cut = _quiet_cut(audio, block_len)
                    yield Block(block_start, audio[:cut])
                    block_start += cut / SAMPLE_RATE
                    pending, pending_len = [audio[cut:]], len(audio) - cut
        if total and bad / total > MAX_BAD_PACKET_SHARE:
            raise JobFailed(f"the recording is corrupt: {bad} of {total} audio packets could not be decoded")
        if bad:
            logger.warning("%s: %d of %d audio packets could not be decoded", path, bad, total)
        if pending_len:
            yield Block(block_start, np.concatenate(pending))
        elif block_start == 0.0:
            raise JobFailed("the recording's audio track is empty")


def _packets(container: av.container.InputContainer, stream: av.audio.stream.AudioStream) -> Iterator[av.Packet]:
    try:
        for packet in container.demux(stream):
            if packet.size:
                yield packet
    except av.FFmpegError as exc:
        raise JobFailed(f"the recording could not be read: {exc}") from None


def _empty() -> np.ndarray:
    return np.zeros(0, dtype=np.float32)


def _quiet_cut(audio: np.ndarray, target: int) -> int:
    """Index of the quietest 50 ms window in the CUT_SEARCH_SECONDS before (and at) `target`."""
    window = int(CUT_WINDOW_SECONDS * SAMPLE_RATE)
    lo = max(window, target - int(CUT_SEARCH_SECONDS * SAMPLE_RATE))
    region = audio[lo : target + window]
    n = len(region) // window
    if n == 0:
        return target
    energy = np.square(region[: n * window]).reshape(n, window).mean(axis=1)
    return lo + int(np.argmin(energy)) * window + window // 2
