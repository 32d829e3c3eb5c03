"""The one thread that runs the recogniser for every event's phrases, off the event loop.

Final phrases come first and are never dropped while there is room; interim ones are only the newest
per event, and only when no final waits. When finals arrive faster than they are recognised (a busy
machine), a new one is merged into the last waiting one of its event (one longer caption, a little
later), and past MAX_WAITING_FINALS the oldest waiting is dropped: captions fall behind by at most a
few phrases, never by minutes. The media path only ever appends to a queue here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from archive.phrases import Heard

logger = logging.getLogger(__name__)

MAX_WAITING_FINALS = 4
# Interim captions are a nicety: while recognising a phrase takes longer than this (a busy machine),
# they are skipped, since each one would delay the next final by as much.
INTERIM_MAX_SECONDS = 0.6
# Weight of the newest recognition time in the running estimate.
TIMING_WEIGHT = 0.3
# Merged finals stay a caption a person can read at once (and a decode the token budget allows).
MAX_MERGED_SECONDS = 16.0
SAMPLE_RATE = 16_000


class Recogniser(Protocol):
    def load(self) -> None: ...

    def recognise(self, samples: np.ndarray, hotwords: Mapping[str, str] | None = None) -> Heard | None: ...


@dataclass(frozen=True)
class Job:
    key: str  # the event's slug
    phrase: int
    final: bool
    start: float
    end: float
    samples: np.ndarray
    hotwords: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    job: Job
    heard: Heard | None


class CaptionWorker:
    def __init__(self, recogniser: Recogniser, deliver: Callable[[Result], None]) -> None:
        self._recogniser = recogniser
        self._deliver = deliver
        self._finals: deque[Job] = deque()
        self._interims: dict[str, Job] = {}
        self._cv = threading.Condition()
        self._stopping = False
        self._busy_with: str | None = None
        self.dropped = 0
        self.merged = 0
        self.skipped_interims = 0
        self.ready = threading.Event()  # the model is loaded
        self.seconds_per_phrase = 0.0  # running estimate of one recognition's wall time
        self._thread = threading.Thread(target=self._run, name="captions", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        """From any thread (the media writer threads): never blocks on recognition."""
        with self._cv:
            if self._stopping:
                return
            if job.final:
                self._interims.pop(job.key, None)  # its interim is stale now
                self._add_final(job)
            elif self.seconds_per_phrase > INTERIM_MAX_SECONDS:
                self.skipped_interims += 1
                return
            else:
                self._interims[job.key] = job
            self._cv.notify()

    def _add_final(self, job: Job) -> None:
        if len(self._finals) >= MAX_WAITING_FINALS:
            last = next((j for j in reversed(self._finals) if j.key == job.key), None)
            if last is not None and job.end - last.start <= MAX_MERGED_SECONDS:
                index = self._finals.index(last)
                self._finals[index] = replace(
                    last, phrase=job.phrase, end=job.end, samples=np.concatenate([last.samples, job.samples])
                )
                self.merged += 1
                return
            self._finals.popleft()
            self.dropped += 1
            logger.warning("live captions are behind: a phrase was dropped")
        self._finals.append(job)

    def idle(self, key: str) -> bool:
        """No final of `key` waits or runs (used at the event's end before the draft is written)."""
        with self._cv:
            return self._busy_with != key and not any(j.key == key for j in self._finals)

    def stop(self) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify()
        self._thread.join(timeout=30)

    def _take(self) -> Job | None:
        with self._cv:
            while not self._stopping and not self._finals and not self._interims:
                self._cv.wait()
            if self._stopping:
                return None
            if self._finals:
                job = self._finals.popleft()
            else:
                key = next(iter(self._interims))
                job = self._interims.pop(key)
            self._busy_with = job.key if job.final else None
            return job

    def _run(self) -> None:
        try:
            self._recogniser.load()
        except Exception:
            logger.exception("the live captions' speech model could not be loaded; no captions")
            with self._cv:
                self._stopping = True
            return
        self.seconds_per_phrase = 0.0  # the load's warm-up run says nothing about phrases
        self.ready.set()
        while (job := self._take()) is not None:
            began = time.monotonic()
            try:
                heard = self._recogniser.recognise(job.samples, job.hotwords)
            except Exception:
                logger.exception("recognising a phrase failed")
                heard = None
            took = time.monotonic() - began
            self.seconds_per_phrase += TIMING_WEIGHT * (took - self.seconds_per_phrase)
            try:
                self._deliver(Result(job, heard))
            except Exception:
                logger.exception("delivering a caption failed")
            with self._cv:
                self._busy_with = None
