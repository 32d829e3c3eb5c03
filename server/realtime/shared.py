"""Values many WebSocket connects share: built once, awaited by everyone who asks meanwhile.

A reconnect storm (5,000 viewers after a network blip) would otherwise open 5,000 database sessions for the
same event row and build 5,000 copies of the same public snapshot. `Shared` keeps one entry per key, valid
for one version (a channel position: any public change moves it) and for at most `max_age_s` (which bounds
staleness from changes that publish nothing). A miss starts one build as its own task; every caller that
asks for the same key and version meanwhile awaits that task, so a disconnecting caller never cancels the
build for the others, and a failed build is forgotten (the next caller retries).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Shared(Generic[K, V]):
    def __init__(self, max_age_s: float) -> None:
        self.max_age_s = max_age_s
        # key → (version, started at, the build)
        self._entries: dict[K, tuple[int, float, asyncio.Task[V]]] = {}

    async def get(self, key: K, version: int, build: Callable[[], Awaitable[V]]) -> V:
        entry = self._entries.get(key)
        now = time.monotonic()
        if entry is None or entry[0] != version or now - entry[1] >= self.max_age_s:
            task = asyncio.ensure_future(build())
            entry = (version, now, task)
            self._entries[key] = entry
            task.add_done_callback(lambda done: self._settled(key, done))
        return await asyncio.shield(entry[2])

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)

    def _settled(self, key: K, task: asyncio.Task[V]) -> None:
        if task.cancelled() or task.exception() is not None:  # retrieves it: no "never retrieved" warning
            entry = self._entries.get(key)
            if entry is not None and entry[2] is task:
                del self._entries[key]
