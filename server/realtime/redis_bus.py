"""Redis Streams bus: one stream per channel, bounded by MAXLEN, entry ids equal to channel frame ids.

A Lua script increments the channel's counter and appends the entry under the id `<n>-0` in one step,
so every process sees the same numbering. A supervised listener task XREADs every channel that has
local listeners and hands frames to the hub.

Redis going away is survived, not reported as an error to users: a publish that fails (always after the
database commit) waits in a bounded queue and is retried in order until Redis takes it; reads raise
`BusUnavailable` (503 / WebSocket 1013) and the clients retry. Redis coming back *empty* (restarted
without persistence) would restart every channel's numbering under the clients' feet: an epoch key that
each process checks every second (and after every error) notices, and the hub then sends every client a
fresh snapshot (`resync_required`) instead of frames numbered from 1 again. A publish that timed out but
did reach Redis is published twice (at least once, never lost): clients apply frames by question id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections import deque

import redis.asyncio as redis
from redis.exceptions import RedisError

from server.realtime.bus import BusUnavailable, Frame, Sink, render

log = logging.getLogger("sitecast.bus")

RETAINED_FRAMES = 10_000
# XREAD blocks this long; a newly watched channel joins the read set within one block.
BLOCK_MS = 500
# redis-py's default socket timeout would cut a blocking XREAD; keep it well above BLOCK_MS.
SOCKET_TIMEOUT_S = BLOCK_MS / 1000 + 10
RECONNECT_DELAY_S = 0.5
# Commands other than the blocking read: a request waiting on an unreachable Redis gives up after this
# (and answers 503) instead of hanging for the listener's long timeout.
COMMAND_TIMEOUT_S = 2.0
# Frames that failed to publish, kept for retry: minutes of a busy event. Beyond it the oldest are dropped
# and every client is resynced from the database once Redis is back (the epoch changes).
UNSENT_LIMIT = 10_000
# How often the listener checks that Redis is still the one it numbered with (and always after an error).
EPOCH_CHECK_S = 1.0
# The presence hash outlives its last writer by this much (seconds): long enough for any live process to
# refresh it, short enough that an abandoned event leaves nothing behind.
PRESENCE_TTL_S = 30

_PUBLISH = """
local n = redis.call('INCR', KEYS[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], n .. '-0', 't', ARGV[1], 'd', ARGV[2])
return n
"""


# Each process's count lives in one field of the event's hash, stamped with Redis's own clock (processes'
# clocks differ); a field not refreshed within the staleness window belongs to a dead process (SIGKILL,
# a lost machine) and is dropped, so it leaves the total on the next read instead of staying forever.
_PRESENCE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. now)
redis.call('EXPIRE', KEYS[1], ARGV[4])
local fields = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #fields, 2 do
    local value = fields[i + 1]
    local sep = string.find(value, ':', 1, true)
    local stamp = sep and tonumber(string.sub(value, sep + 1)) or 0
    if now - stamp > tonumber(ARGV[3]) then
        redis.call('HDEL', KEYS[1], fields[i])
    else
        total = total + tonumber(string.sub(value, 1, sep - 1))
    end
end
return total
"""


class RedisBus:
    def __init__(
        self, url: str, prefix: str = "sitecast", retained: int = RETAINED_FRAMES, presence_stale_s: float = 3.0
    ) -> None:
        self._url = url
        self._prefix = prefix
        self._retained = retained
        self._client = redis.from_url(
            url, socket_timeout=COMMAND_TIMEOUT_S, socket_connect_timeout=COMMAND_TIMEOUT_S, decode_responses=True
        )
        self._reader = redis.from_url(url, socket_timeout=SOCKET_TIMEOUT_S, decode_responses=True)
        self._script = self._client.register_script(_PUBLISH)
        self._presence = self._client.register_script(_PRESENCE)
        self._presence_stale_ms = int(presence_stale_s * 1000)
        self._cursors: dict[str, str] = {}
        self._watchers: dict[str, int] = {}
        self._sink: Sink | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._process = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
        # position(): the read each channel is waiting to start, the one in flight, and their tasks.
        self._next_position: dict[str, asyncio.Future[int]] = {}
        self._reading_position: dict[str, asyncio.Future[int]] = {}
        self._position_reads: set[asyncio.Task[None]] = set()
        self._epoch: str | None = None  # the Redis "life" this process's numbering belongs to
        self._unsent: deque[tuple[str, str, str]] = deque()  # publishes waiting for Redis, in order
        self._dropped = False  # the unsent queue overflowed: everyone must resync
        self._flusher: asyncio.Task[None] | None = None
        self._epoch_checked = 0.0

    @property
    def client(self) -> redis.Redis:
        return self._client

    def _stream(self, channel: str) -> str:
        return f"{self._prefix}:stream:{channel}"

    def _counter(self, channel: str) -> str:
        return f"{self._prefix}:seq:{channel}"

    def _epoch_key(self) -> str:
        return f"{self._prefix}:epoch"

    async def start(self, sink: Sink) -> None:
        self._sink = sink
        await self._client.ping()
        self._epoch = await self._current_epoch()
        self._task = asyncio.create_task(self._listen(), name="redis-bus-listener")

    async def close(self) -> None:
        for task in (self._task, self._flusher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._client.aclose()
        await self._reader.aclose()

    async def publish(self, channel: str, frame_type: str, data_json: str) -> int:
        if not self._unsent:
            try:
                return await self._append(channel, frame_type, data_json)
            except (RedisError, OSError) as exc:
                log.warning("redis bus: publish to %s failed (%s); queued for retry", channel, exc)
        # Behind earlier frames that are still waiting: keep the order.
        if len(self._unsent) >= UNSENT_LIMIT:
            self._unsent.popleft()
            self._dropped = True
        self._unsent.append((channel, frame_type, data_json))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="redis-bus-flush")
        return 0

    async def _append(self, channel: str, frame_type: str, data_json: str) -> int:
        keys = [self._counter(channel), self._stream(channel)]
        return int(await self._script(keys=keys, args=[frame_type, data_json, self._retained]))

    async def _flush(self) -> None:
        while self._unsent:
            try:
                await self._append(*self._unsent[0])
            except (RedisError, OSError):
                await asyncio.sleep(RECONNECT_DELAY_S)
                continue
            self._unsent.popleft()
        if self._dropped:
            # Some frames never made it: a new epoch makes every process resync its clients.
            with contextlib.suppress(RedisError, OSError):
                await self._client.set(self._epoch_key(), uuid.uuid4().hex)
                self._dropped = False
        log.warning("redis bus: queued frames published")

    async def position(self, channel: str) -> int:
        """The channel's newest frame id, read by a GET that starts after this call.

        A connect storm asks thousands of times a second: callers arriving while a read is in flight share
        the next one (it starts once that read is done, so it still sees every frame published before any
        of them asked), instead of each taking a pooled connection (the pool ran out at 5,000 connects)."""
        waiting = self._next_position.get(channel)
        if waiting is None:
            waiting = asyncio.get_running_loop().create_future()
            waiting.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved: no warning
            self._next_position[channel] = waiting
            self._spawn_position_read(channel, waiting)
        return await asyncio.shield(waiting)

    def _spawn_position_read(self, channel: str, result: asyncio.Future[int]) -> None:
        task = asyncio.ensure_future(self._read_position(channel, result))
        self._position_reads.add(task)
        task.add_done_callback(self._position_reads.discard)

    async def _read_position(self, channel: str, result: asyncio.Future[int]) -> None:
        before = self._reading_position.get(channel)
        if before is not None:
            await asyncio.wait([before])
        if self._next_position.get(channel) is result:
            del self._next_position[channel]  # from here on, a new caller waits for the read after this one
        self._reading_position[channel] = result
        try:
            value = await self._client.get(self._counter(channel))
        except (RedisError, OSError) as exc:
            result.set_exception(BusUnavailable(str(exc)))
        except BaseException:
            result.cancel()  # shut down mid-read: the callers see it cancelled
            raise
        else:
            result.set_result(int(value) if value else 0)
        finally:
            if self._reading_position.get(channel) is result:
                del self._reading_position[channel]

    async def since(self, channel: str, last_id: int) -> list[Frame] | None:
        current = await self.position(channel)
        if last_id > current or last_id < 0:
            return None
        if last_id == current:
            return []
        try:
            entries = await self._client.xrange(self._stream(channel), min=f"({last_id}-0", max="+")
        except (RedisError, OSError) as exc:
            raise BusUnavailable(str(exc)) from exc
        frames = [self._frame(channel, entry_id, fields) for entry_id, fields in entries]
        if not frames or frames[0].id != last_id + 1:
            return None  # trimmed past what the client holds
        return frames

    def _frame(self, channel: str, entry_id: str, fields: dict[str, str]) -> Frame:
        frame_id = int(entry_id.split("-", 1)[0])
        return Frame(channel, frame_id, render(fields["t"], frame_id, fields["d"]))

    async def watch(self, channel: str) -> None:
        """Start reading `channel` from its current position (before the hub reads that position)."""
        self._watchers[channel] = self._watchers.get(channel, 0) + 1
        if channel not in self._cursors:
            with contextlib.suppress(BusUnavailable):  # Redis is away: the listener positions it once back
                self._cursors[channel] = f"{await self.position(channel)}-0"
            self._changed.set()

    def unwatch(self, channel: str) -> None:
        left = self._watchers.get(channel, 0) - 1
        if left > 0:
            self._watchers[channel] = left
            return
        self._watchers.pop(channel, None)
        self._cursors.pop(channel, None)

    async def presence(self, event_id: int, local_count: int) -> int:
        key = f"{self._prefix}:presence:{event_id}"
        args = [self._process, local_count, self._presence_stale_ms, PRESENCE_TTL_S]
        return int(await self._presence(keys=[key], args=args))

    async def _current_epoch(self) -> str:
        # Set once per Redis life: whoever comes first after a restart names it, the others read it.
        await self._reader.set(self._epoch_key(), uuid.uuid4().hex, nx=True)
        return str(await self._reader.get(self._epoch_key()))

    async def _check_epoch(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._epoch_checked < EPOCH_CHECK_S:
            return
        epoch = await self._current_epoch()
        self._epoch_checked = now
        if epoch == self._epoch:
            return
        # Redis lost its data (or frames were dropped): numbering restarts. Read on from where each
        # channel is now, and have every client take a snapshot from the database.
        log.warning("redis bus: Redis came back without our streams (new epoch); resyncing every client")
        self._epoch = epoch
        for channel in list(self._cursors):
            value = await self._reader.get(self._counter(channel))
            self._cursors[channel] = f"{int(value) if value else 0}-0"
        if self._sink is not None:
            self._sink.resync()

    async def _listen(self) -> None:
        while True:
            try:
                await self._check_epoch()
                for channel in [ch for ch in self._watchers if ch not in self._cursors]:
                    value = await self._reader.get(self._counter(channel))
                    self._cursors[channel] = f"{int(value) if value else 0}-0"
                if not self._cursors:
                    self._changed.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), BLOCK_MS / 1000)
                    continue
                streams = {self._stream(ch): cursor for ch, cursor in self._cursors.items()}
                replies = await self._reader.xread(streams, block=BLOCK_MS, count=1000)
                for stream, entries in replies or []:
                    channel = stream[len(self._prefix) + len(":stream:") :]
                    if channel not in self._cursors:
                        continue
                    for entry_id, fields in entries:
                        self._cursors[channel] = entry_id
                        if self._sink is not None:
                            self._sink.deliver(self._frame(channel, entry_id, fields))
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                # Supervised: a dropped connection or a Redis restart must not end fan-out.
                log.warning("redis bus listener: %s; retrying", exc)
                self._epoch_checked = 0.0  # first thing once back: is it the same Redis?
                await asyncio.sleep(RECONNECT_DELAY_S)
            except Exception:
                log.exception("redis bus listener failed; retrying")
                await asyncio.sleep(RECONNECT_DELAY_S)
