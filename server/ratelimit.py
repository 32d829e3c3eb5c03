"""Per-key rate limits (per IP for join and asking). In-process window; Redis when REDIS_URL is set."""

from __future__ import annotations

import time
from collections import deque
from typing import Protocol


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_s: float) -> float | None:
        """Record one hit; None when allowed, else seconds until the next hit would be."""


class MemoryRateLimiter:
    # Bounded so a flood of distinct keys cannot grow memory without limit.
    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}

    async def hit(self, key: str, limit: int, window_s: float) -> float | None:
        now = time.monotonic()
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.MAX_KEYS:
                self._hits.clear()
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - window_s:
            hits.popleft()
        if len(hits) >= limit:
            return hits[0] + window_s - now
        hits.append(now)
        return None
