"""Per-key rate limits (per IP for join and asking). In-process window; Redis when REDIS_URL is set."""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("sitecast.ratelimit")

# After Redis failed a hit, this long on the in-process limiter before asking Redis again.
REDIS_RETRY_S = 2.0


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
        # While Redis is away each process limits on its own: joining and asking go on (with limits per
        # process instead of shared), rather than failing because a counter is unreachable.
        self._fallback = MemoryRateLimiter()
        self._away_until = 0.0

    async def hit(self, key: str, limit: int, window_s: float) -> float | None:
        name = f"{self._prefix}:rate:{key}"
        if time.monotonic() < self._away_until:
            return await self._fallback.hit(key, limit, window_s)
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, max(1, math.ceil(window_s)), nx=True)
                pipe.pttl(name)
                count, _, ttl_ms = await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("rate limit on Redis failed (%s); limiting in this process meanwhile", exc)
            # Not every request should wait for Redis's timeout while it is away: try again in a moment.
            self._away_until = time.monotonic() + REDIS_RETRY_S
            return await self._fallback.hit(key, limit, window_s)
        if int(count) > limit:
            return max(0.001, int(ttl_ms) / 1000)
        return None
