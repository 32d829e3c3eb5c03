"""The heap steward (server/heap.py) with CPython's real collector: freeze after a full collection, thaw on time.

`gc.freeze` is process-wide and the test session already runs a live server with its own steward, so each
scenario runs in a fresh interpreter where this steward is the only one touching the collector.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref

import pytest

from server.heap import HeapSteward
from tests.support import wait_for


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def _in_generations(objects: list[object]) -> int:
    walked = {id(o) for o in gc.get_objects()}
    return sum(id(o) in walked for o in objects)


async def _survivors_are_frozen_then_thawed() -> None:
    steward = HeapSteward(thaw_seconds=3600, poll_seconds=0.01)
    await steward.start()
    try:
        assert gc.get_freeze_count() > 0, "start-up objects are frozen at once"
        kept = [_Cycle() for _ in range(1000)]
        gc.collect()  # a full collection: its survivors go out of the next ones
        await wait_for(lambda: steward.freezes >= 1 or None, 5, message="a freeze after the full collection")
        # Frozen: still tracked, but in no generation the collector walks.
        assert not _in_generations(kept) and all(gc.is_tracked(o) for o in kept)
        steward.thaw_seconds = 0
        await wait_for(lambda: steward.thaws >= 1 or None, 5, message="the thaw")
        assert gc.get_freeze_count() == 0, "thawed: the next full collection walks everything again"
        assert _in_generations(kept) == len(kept)
    finally:
        await steward.close()
    assert gc.get_freeze_count() == 0 and steward._on_gc not in gc.callbacks


async def _frozen_cycles_are_collected_after_the_thaw() -> None:
    steward = HeapSteward(thaw_seconds=3600, poll_seconds=0.01)
    await steward.start()
    try:
        garbage = [_Cycle() for _ in range(100)]
        gc.collect()
        await wait_for(lambda: steward.freezes >= 1 or None, 5, message="a freeze")
        probe = weakref.ref(garbage[0])
        del garbage  # cycles: refcounting cannot free them, and frozen they are out of the collector's reach
        gc.collect()
        assert probe() is not None, "frozen cycles wait for the thaw"
        steward.thaw_seconds = 0
        await wait_for(lambda: steward.thaws >= 1 or None, 5, message="the thaw")
        gc.collect()
        assert probe() is None, "collected once thawed"
    finally:
        await steward.close()


def _run_alone(scenario: str) -> None:
    script = f"import asyncio, tests.server.test_heap as t; asyncio.run(t.{scenario}())"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "scenario", ["_survivors_are_frozen_then_thawed", "_frozen_cycles_are_collected_after_the_thaw"]
)
def test_heap_steward(scenario: str) -> None:
    _run_alone(scenario)
