"""Keeps CPython's cyclic garbage collector from stopping the event loop to walk the whole heap.

Each open WebSocket holds a few hundred GC-tracked objects (protocol, parser, scope, task and coroutine
frames), so at 5,000 viewers a full collection walks ~2 M objects: 0.5-0.7 s with the loop stopped, a stall
every viewer sees. CPython runs one whenever the objects promoted to the oldest generation since the last
full collection reach a quarter of it, so it happens again and again while an audience arrives, and now
and then after (bench/README.md, "Recorded runs").

After each full collection the steward freezes what survived it (`gc.freeze`: out of later collections),
so the next one walks only what arrived since. Frozen objects that later become cyclic garbage (a departed
connection's cycles) are not lost: every `thaw_seconds` the heap is thawed and the next full collection
walks it all once, which is one long walk per interval instead of one per quarter of growth.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from typing import Any

# How often the frozen heap goes back to the collector (one full walk per interval at most).
THAW_SECONDS = 900.0
# How soon after a full collection its survivors are frozen (a flag checked by a small task).
POLL_SECONDS = 1.0


class HeapSteward:
    def __init__(self, thaw_seconds: float = THAW_SECONDS, poll_seconds: float = POLL_SECONDS) -> None:
        self.thaw_seconds = thaw_seconds
        self.poll_seconds = poll_seconds
        self.freezes = 0
        self.thaws = 0
        self._full_collection = False
        self._thawed_at = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        gc.freeze()  # what start-up loaded (modules, classes, the app) lives as long as the process
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.create_task(self._loop(), name="heap-steward")

    async def close(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_gc)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        gc.unfreeze()

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        # Runs inside the collector, on whichever thread allocated: only note it, act on the loop.
        if phase == "stop" and info["generation"] == 2:
            self._full_collection = True

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            self.step()

    def step(self) -> None:
        if time.monotonic() - self._thawed_at >= self.thaw_seconds:
            gc.unfreeze()
            self._thawed_at = time.monotonic()
            self._full_collection = False
            self.thaws += 1
        elif self._full_collection:
            self._full_collection = False
            gc.freeze()
            self.freezes += 1
