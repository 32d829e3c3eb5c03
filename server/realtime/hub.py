"""The WebSocket hub: every frame is serialised once and written to each listening socket.

Frames arrive from the bus (after commit). Each connection follows one numbered channel (staff or
public of its event), plus personal notices. Sends are stepped eagerly (see eager.py): a socket that is
keeping up costs one synchronous write; one that is backed up queues into a bounded outbox, and a
connection whose outbox overflows is closed with a policy code so it resumes from its last id instead
of stalling anyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket

from server.metrics import Metrics
from server.realtime.bus import Bus, Frame
from server.realtime.eager import finish, step

log = logging.getLogger("sitecast.hub")

# Frames a backed-up socket may hold before it is closed: about a minute of a busy event's traffic.
OUTBOX_LIMIT = 256
# Close code for "you were too slow; reconnect with your last id" (4000-4999: application codes).
CLOSE_TOO_SLOW = 4008
# Heartbeats let clients notice a dead server (and, via `position`, a missed frame) within ~2 beats.
HEARTBEAT_S = 15.0
# Presence is recounted this often; cheap (a dict walk, plus one Redis round trip when scaled out).
PRESENCE_S = 2.0


# Frames the server itself sends besides the domain's events (moderation.events.EVENT_TYPES); README lists all.
SERVER_FRAME_TYPES = frozenset(
    {
        "snapshot",
        "resync_required",
        "heartbeat",
        "presence",
        "notice",
        "mine",
        "pong",
        "stream.state",
        "caption",
        "note",
    }
)


def staff_channel(event_id: int) -> str:
    return f"staff:{event_id}"


def public_channel(event_id: int) -> str:
    return f"public:{event_id}"


def notices_channel(event_id: int) -> str:
    return f"notices:{event_id}"


@dataclass(eq=False)
class Connection:
    ws: WebSocket
    event_id: int
    channel: str
    participant_id: int | None
    is_viewer: bool
    last_id: int = 0
    outbox: deque[str] = field(default_factory=deque)
    busy: bool = False
    closed: bool = False
    # While the connection is being brought up to date, live frames wait here (then merge by id).
    syncing: list[Frame] | None = field(default_factory=list)
    on_gap: Callable[[Connection], None] | None = None


class Hub:
    def __init__(self, bus: Bus, metrics: Metrics) -> None:
        self.bus = bus
        self.metrics = metrics
        self._by_channel: dict[str, set[Connection]] = {}
        self._by_participant: dict[int, set[Connection]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._presence: dict[int, int] = {}
        self._background: list[asyncio.Task[None]] = []

    # lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.bus.start(self)
        self._background = [
            asyncio.create_task(self._heartbeats(), name="hub-heartbeats"),
            asyncio.create_task(self._presence_loop(), name="hub-presence"),
        ]

    async def close(self) -> None:
        for task in self._background:
            task.cancel()
        for task in [*self._background, *self._tasks]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.bus.close()

    # membership ------------------------------------------------------------------------------------
    async def add(self, conn: Connection) -> None:
        self._by_channel.setdefault(conn.channel, set()).add(conn)
        if conn.participant_id is not None:
            self._by_participant.setdefault(conn.participant_id, set()).add(conn)
        self.metrics.ws_connections.inc()
        await self.bus.watch(conn.channel)
        await self.bus.watch(notices_channel(conn.event_id))

    def remove(self, conn: Connection) -> None:
        conn.closed = True
        conn.outbox.clear()
        members = self._by_channel.get(conn.channel)
        if members is not None and conn in members:
            members.discard(conn)
            self.metrics.ws_connections.dec()
            if not members:
                del self._by_channel[conn.channel]
            self.bus.unwatch(conn.channel)
            self.bus.unwatch(notices_channel(conn.event_id))
        if conn.participant_id is not None:
            mine = self._by_participant.get(conn.participant_id)
            if mine is not None:
                mine.discard(conn)
                if not mine:
                    del self._by_participant[conn.participant_id]

    def local_viewers(self, event_id: int) -> int:
        return len(self._by_channel.get(public_channel(event_id), ()))

    # delivery --------------------------------------------------------------------------------------
    def deliver(self, frame: Frame) -> None:
        """Called by the bus for every frame of a watched channel, in channel order."""
        if frame.channel.startswith("notices:"):
            self._deliver_notice(frame)
            return
        for conn in self._by_channel.get(frame.channel, ()):
            self.offer(conn, frame)

    def offer(self, conn: Connection, frame: Frame) -> None:
        if conn.closed:
            return
        if conn.syncing is not None:
            if len(conn.syncing) >= OUTBOX_LIMIT:
                self._evict(conn)  # it cannot catch up faster than the event moves on
                return
            conn.syncing.append(frame)
            return
        if frame.id <= conn.last_id:
            return  # already sent (replay and live overlap)
        if frame.id != conn.last_id + 1:
            # A frame went missing between bus and hub (e.g. a listener reconnect): fetch the gap.
            if conn.on_gap is not None:
                conn.syncing = [frame]
                conn.on_gap(conn)
            return
        conn.last_id = frame.id
        self.push(conn, frame.text)

    def _deliver_notice(self, frame: Frame) -> None:
        body = json.loads(frame.text)["data"]
        text = None
        for pid in body["to"]:
            for conn in self._by_participant.get(pid, ()):
                if conn.event_id != int(frame.channel.split(":", 1)[1]):
                    continue
                text = text or json.dumps({"type": "notice", "data": body["notice"]}, ensure_ascii=False)
                self.push(conn, text)

    def push(self, conn: Connection, text: str) -> None:
        if conn.closed:
            return
        if conn.busy:
            if len(conn.outbox) >= OUTBOX_LIMIT:
                self._evict(conn)
            else:
                conn.outbox.append(text)
            return
        coro = conn.ws.send_text(text)
        try:
            done, yielded = step(coro)
        except Exception:
            conn.closed = True  # the peer went away; its endpoint loop will notice and clean up
            return
        self.metrics.ws_deliveries.inc()
        if not done:
            conn.busy = True
            self._spawn(self._drain(conn, coro, yielded))

    async def _drain(self, conn: Connection, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        # Finish the send that `push` started (suspended on `yielded`), then empty the outbox in order.
        try:
            await finish(coro, yielded)
            while conn.outbox and not conn.closed:
                await conn.ws.send_text(conn.outbox.popleft())
                self.metrics.ws_deliveries.inc()
        except Exception:
            conn.closed = True
        finally:
            conn.busy = False

    def _evict(self, conn: Connection) -> None:
        conn.closed = True
        conn.outbox.clear()
        self.metrics.ws_evictions.inc()
        self._spawn(_close(conn.ws, CLOSE_TOO_SLOW, "too slow; resume with your last id"))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # periodic frames -------------------------------------------------------------------------------
    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            for channel, conns in list(self._by_channel.items()):
                position = await self.bus.position(channel)
                text = json.dumps({"type": "heartbeat", "data": {"position": position}})
                for conn in list(conns):
                    if conn.syncing is None:
                        self.push(conn, text)

    async def _presence_loop(self) -> None:
        while True:
            await asyncio.sleep(PRESENCE_S)
            with contextlib.suppress(Exception):
                await self.recount()

    async def recount(self) -> None:
        events = {c.event_id for conns in self._by_channel.values() for c in list(conns)[:1]}
        for event_id in events:
            total = await self.bus.presence(event_id, self.local_viewers(event_id))
            if self._presence.get(event_id) == total:
                continue
            self._presence[event_id] = total
            text = json.dumps({"type": "presence", "data": {"viewers": total}})
            for channel in (staff_channel(event_id), public_channel(event_id)):
                for conn in list(self._by_channel.get(channel, ())):
                    if conn.syncing is None:
                        self.push(conn, text)

    def viewers(self, event_id: int) -> int:
        return self._presence.get(event_id, self.local_viewers(event_id))


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await ws.close(code, reason)
