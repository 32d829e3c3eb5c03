"""The heap steward (server/heap.py) with CPython's real collector: freeze after a full collection, thaw on time."""

from __future__ import annotations

import gc
import weakref

from server.heap import HeapSteward
from tests.support import wait_for


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def _in_generations(objects: list[object]) -> int:
    walked = {id(o) for o in gc.get_objects()}
    return sum(id(o) in walked for o in objects)


async def test_survivors_of_a_full_collection_are_frozen_and_thawed_on_time() -> None:
    steward = HeapSteward(thaw_seconds=3600, poll_seconds=0.01)
    await steward.start()
    try:
        assert gc.get_freeze_count() > 0, "start-up objects are frozen at once"
        kept = [_Cycle() for _ in range(1000)]
        gc.collect()  # a full collection: its survivors go out of the next ones
        await wait_for(lambda: steward.freezes >= 1 or None, 5, message="a freeze after the full collection")
        # Frozen means still tracked but in no generation the collector walks. (Not a freeze-count delta:
        # other frozen objects freed by refcounting meanwhile shrink the count.)
        assert not _in_generations(kept) and all(gc.is_tracked(o) for o in kept)
        steward.thaw_seconds = 0
        await wait_for(lambda: steward.thaws >= 1 or None, 5, message="the thaw")
        assert gc.get_freeze_count() == 0, "thawed: the next full collection walks everything again"
        assert _in_generations(kept) == len(kept)
    finally:
        await steward.close()
    assert gc.get_freeze_count() == 0 and steward._on_gc not in gc.callbacks


async def test_frozen_cycles_are_collected_after_the_thaw() -> None:
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
