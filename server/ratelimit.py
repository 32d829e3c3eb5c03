"""Per-key rate limits (per IP for join and asking). In-process window; Redis when REDIS_URL is set."""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Protocol

from redis.asyncio import Redis


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


class RedisRateLimiter:
    """Shared by every web process: a fixed window per key (INCR + EXPIRE), one round trip per hit."""

    def __init__(self, client: Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    async def hit(self, key: str, limit: int, window_s: float) -> float | None:
        name = f"{self._prefix}:rate:{key}"
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, max(1, math.ceil(window_s)), nx=True)
            pipe.pttl(name)
            count, _, ttl_ms = await pipe.execute()
        if int(count) > limit:
            return max(0.001, int(ttl_ms) / 1000)
        return None
