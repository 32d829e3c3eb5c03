"""The audio tap of one event: decoded programme audio → 16 kHz mono → phrases → the caption worker.

Runs in the event's media writer thread (server/media/transcode.py calls it with every decoded
frame and its recording time): resampling and the phrase cutter cost microseconds per 20 ms frame;
recognition is the worker's (server/captions/worker.py), reached through a queue that never blocks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

import av

from server.captions.cutter import SAMPLE_RATE, PhraseCutter
from server.captions.worker import Job


class EventTap:
    def __init__(self, slug: str, submit: Callable[[Job], None], hotwords: Callable[[], Mapping[str, str]]) -> None:
        self.slug = slug
        self._submit = submit
        self._hotwords = hotwords
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        self._cutter = PhraseCutter()
        self._lock = threading.Lock()  # the writer thread pushes; the loop flushes at the event's end

    def __call__(self, frame: av.AudioFrame, seconds: float) -> None:
        frame.pts = None  # the resampler need not check continuity: the recording clock is ours
        with self._lock:
            for out in self._resampler.resample(frame):
                samples = out.to_ndarray().reshape(-1)
                for cut in self._cutter.push(samples, seconds):
                    self._send(cut.phrase, cut.final, cut.start, cut.end, cut.samples)

    def flush(self) -> None:
        """The stream ended: the phrase being spoken is final now."""
        with self._lock:
            for cut in self._cutter.flush():
                self._send(cut.phrase, cut.final, cut.start, cut.end, cut.samples)

    def _send(self, phrase: int, final: bool, start: float, end: float, samples: object) -> None:
        self._submit(Job(self.slug, phrase, final, round(start, 3), round(end, 3), samples, self._hotwords()))  # type: ignore[arg-type]
