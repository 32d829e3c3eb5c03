"""The recogniser thread (server/captions/worker.py): finals first, interims only the newest, and
merge-then-drop when phrases come faster than they are recognised."""

from __future__ import annotations

import threading
from collections.abc import Mapping

import numpy as np

from archive.phrases import Heard
from server.captions.worker import MAX_WAITING_FINALS, CaptionWorker, Job, Result
from tests.support import wait_for


class Gate:
    """A recogniser that waits for the test before each phrase, and says how long the phrase was."""

    def __init__(self) -> None:
        self.open = threading.Event()

    def load(self) -> None:
        pass

    def recognise(self, samples: np.ndarray, hotwords: Mapping[str, str] | None = None) -> Heard | None:
        self.open.wait(10)
        return Heard("en", f"{len(samples)} samples", bool(hotwords))


def job(phrase: int, final: bool = True, seconds: float = 1.0, key: str = "ev") -> Job:
    start = float(phrase * 2)
    return Job(key, phrase, final, start, start + seconds, np.zeros(round(seconds * 16_000), np.float32))


async def test_finals_go_before_interims_and_only_the_newest_interim_is_recognised() -> None:
    gate = Gate()
    results: list[Result] = []
    worker = CaptionWorker(gate, results.append)
    try:
        worker.submit(job(1))  # taken at once, waits at the gate
        worker.submit(job(2, final=False))
        worker.submit(job(2, final=False, seconds=1.5))
        worker.submit(job(3, final=True))
        gate.open.set()
        await wait_for(lambda: len(results) >= 2, 10, message="two results")
        assert [(r.job.phrase, r.job.final) for r in results] == [(1, True), (3, True)]  # phrase 3's final ended 2's
        assert worker.idle("ev")
    finally:
        worker.stop()


async def test_a_worker_that_falls_behind_merges_phrases_then_drops_the_oldest() -> None:
    gate = Gate()
    results: list[Result] = []
    worker = CaptionWorker(gate, results.append)
    try:
        worker.submit(job(0))  # busy with this one
        await wait_for(lambda: not worker.idle("ev") and worker._finals == type(worker._finals)(), 5, message="busy")
        for n in range(1, MAX_WAITING_FINALS + 1):
            worker.submit(job(n, key=f"other-{n}"))  # the queue is full of other events' phrases
        worker.submit(job(10, key="other-4"))  # merged into other-4's waiting phrase
        assert worker.merged == 1 and worker.dropped == 0
        worker.submit(job(11, key="ev"))  # nothing of its event waits: the oldest waiting phrase goes
        assert worker.dropped == 1
        gate.open.set()
        await wait_for(lambda: worker.idle("ev") and len(results) == 1 + MAX_WAITING_FINALS, 10, message="drained")
        merged = next(r for r in results if r.job.key == "other-4")
        assert merged.job.phrase == 10 and merged.heard is not None and merged.heard.text == "32000 samples"
        assert "other-1" not in {r.job.key for r in results}
    finally:
        worker.stop()
