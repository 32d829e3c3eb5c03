"""The WebSocket hub: every frame is serialised once and written to each listening socket.

Frames arrive from the bus (after commit) and wait in an inbox; one deliverer task fans them out in
order, yielding to the event loop every few hundred sockets so that commands, votes and pongs are not
held up behind a 5,000-viewer fan-out. Each connection follows one numbered channel (staff or public of
its event), plus personal notices. A frame's bytes are built once (wire.py) and written straight to each
socket that is keeping up; otherwise sends are stepped eagerly through ASGI (eager.py), and a socket that
is backed up queues into an outbox. A connection is evicted (closed with a policy code, so it resumes from
its last id instead of stalling anyone else) when the bytes waiting for it in every layer exceed a bound,
or when it stops answering pings (server/protocols.py), whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from server.metrics import Metrics
from server.protocols import WS_PING_SECONDS, WS_PONG_SECONDS
from server.realtime.bus import Bus, BusUnavailable, Frame
from server.realtime.cohort import Cohort
from server.realtime.eager import finish, step
from server.realtime.keepalive import Keepalive
from server.realtime.wire import DirectWriter, encode_text

log = logging.getLogger("sitecast.hub")

# Frames a connection being brought up to date may hold meanwhile: about a minute of a busy event's traffic.
OUTBOX_LIMIT = 256
# Bytes one socket may have waiting for its client, counting every layer (the outbox, asyncio's buffer and
# the kernel's, bounded per socket in server/protocols.py): what a 256-frame outbox of 16 KB frames plus
# an unbounded kernel buffer held before, so a reader that keeps up on average rides out a burst. The
# outbox holds references to frames every socket shares, so this is an upper bound, not a per-socket
# copy. A client that stopped reading is evicted sooner, on its missing pong (server/protocols.py).
OUTBOX_BYTES = 8 * 1024 * 1024
# Close code for "you were too slow; reconnect with your last id" (4000-4999: application codes).
CLOSE_TOO_SLOW = 4008
# Heartbeats let clients notice a dead server (and, via `position`, a missed frame) within ~2 beats.
HEARTBEAT_S = 15.0
# Default viewer-count heartbeat (PRESENCE_SECONDS): each process reports and reads the total every half
# of it (cheap: a dict walk, plus one Redis round trip when scaled out), and with Redis a process silent
# for 1.5 of it is dead, so its viewers leave the count within 2.
PRESENCE_S = 2.0
# The most sockets written per slice of a fan-out before the loop gets a turn; the slice is sized down to
# about 1 ms of writes (cohort.py, SLICE_BUDGET_S), so a command arriving during a 5,000-viewer fan-out
# waits a millisecond per step, not the whole fan-out (~50-100 ms).
FANOUT_SLICE = 1000
# When the fan-out is behind, the frames of one channel waiting in the inbox go to each socket as one write
# (the bytes of every frame, in order): a socket's cost is mostly the `send` syscall, so a backlog drains
# several times faster the larger it is. Bounded so one write stays well under a socket's buffer
# (BACKED_UP_BYTES) and a slice's time budget; the inbox is scanned this far ahead for them, past other
# channels' frames and notices (an approval publishes to the staff and public channels and notifies its asker).
COALESCE_FRAMES = 32
COALESCE_BYTES = 32 * 1024
COALESCE_SCAN = 256
# A `question.votes` frame (already coalesced to about one a second, server/questions/votes.py) waits this
# long for the next frame of its channel, to go to each socket in the same write: with approvals flowing,
# each votes frame otherwise costs every viewer a `send` of its own (a tenth of a 5,000-viewer event's
# writes in bench/ws_fanout.py). A counter a fifth of a second later is not a change anyone can see.
VOTES_HOLD_S = 0.2
_VOTES_HEAD = '{"type":"question.votes",'


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
        "event.state",
        "stage",
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


class Unnumbered(Frame):
    """A frame outside the channel's numbering (heartbeat, presence), queued for the deliverer like the rest."""


class Sender(Protocol):
    """A socket as the hub sends to it when the direct path cannot (server/api/realtime.py's `Socket`)."""

    def send_text(self, text: str) -> Awaitable[None]: ...

    def close(self, code: int, reason: str) -> Awaitable[None]: ...


@dataclass(eq=False, slots=True)  # slots: one of these per open socket
class Connection:
    ws: Sender
    event_id: int
    channel: str
    participant_id: int | None
    is_viewer: bool
    last_id: int = 0
    writer: DirectWriter | None = None  # None: always the ASGI path
    outbox: deque[str] | None = None  # made when a send first waits (a deque is ~0.7 KiB: most never need one)
    outbox_bytes: int = 0
    busy: bool = False
    closed: bool = False
    # While the connection is being brought up to date, live frames wait here (then merge by id).
    syncing: list[Frame] | None = field(default_factory=list)
    on_gap: Callable[[Connection], None] | None = None


class Hub:
    def __init__(self, bus: Bus, metrics: Metrics, presence_s: float = PRESENCE_S) -> None:
        self.bus = bus
        self.metrics = metrics
        self.presence_s = presence_s
        self._by_channel: dict[str, set[Connection]] = {}
        self._cohorts: dict[str, Cohort] = {}  # per channel: its connections in step (cohort.py)
        self._by_participant: dict[int, set[Connection]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._presence: dict[int, int] = {}
        self._background: list[asyncio.Task[None]] = []
        self._inbox: deque[Frame] = deque()
        self._inbox_ready = asyncio.Event()
        self._held: dict[str, tuple[Frame, float]] = {}  # channel -> its votes frame waiting, until when
        self.keepalive = Keepalive(WS_PING_SECONDS, WS_PONG_SECONDS)

    # lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._background = [asyncio.create_task(self._deliverer(), name="hub-deliverer")]
        self.keepalive.start()
        await self.bus.start(self)
        self._background += [
            asyncio.create_task(self._heartbeats(), name="hub-heartbeats"),
            asyncio.create_task(self._presence_loop(), name="hub-presence"),
        ]

    async def close(self) -> None:
        await self.keepalive.close()
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
        self._cohorts.setdefault(conn.channel, Cohort()).add(conn)
        if conn.participant_id is not None:
            self._by_participant.setdefault(conn.participant_id, set()).add(conn)
        self.metrics.ws_connections.inc()
        if conn.writer is not None:
            conn.writer.on_stall(lambda: self._stalled(conn))
            conn.writer.keep_alive(self.keepalive)
        await self.bus.watch(conn.channel)
        await self.bus.watch(notices_channel(conn.event_id))

    def remove(self, conn: Connection) -> None:
        conn.closed = True
        if conn.writer is not None:
            conn.writer.leave_keepalive(self.keepalive)
        conn.outbox = None
        conn.outbox_bytes = 0
        cohort = self._cohorts.get(conn.channel)
        if cohort is not None:
            cohort.discard(conn)
        members = self._by_channel.get(conn.channel)
        if members is not None and conn in members:
            members.discard(conn)
            self.metrics.ws_connections.dec()
            if not members:
                del self._by_channel[conn.channel]
                self._cohorts.pop(conn.channel, None)
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
        self._inbox.append(frame)
        self._inbox_ready.set()

    async def _deliverer(self) -> None:
        while True:
            await self._inbox_ready.wait()
            self._inbox_ready.clear()
            while self._inbox:
                await asyncio.sleep(0)  # between frames too, the loop gets its turn
                frame = self._inbox.popleft()
                try:
                    if isinstance(frame, Unnumbered):
                        await self._release(frame.channel)  # a heartbeat's position follows what came before
                        await self._fan_out_unnumbered(frame)
                    elif frame.channel.startswith("notices:"):
                        self._deliver_notice(frame)
                    elif not self._hold(frame):
                        frames = self._coalesce(frame)
                        held = self._held.get(frame.channel)
                        if held is not None and held[0].id + 1 == frames[0].id:
                            frames.insert(0, self._held.pop(frame.channel)[0])  # in the same write
                        else:
                            await self._release(frame.channel)
                        await self._fan_out(frames)
                except Exception:
                    log.exception("delivery of frame %s/%s failed", frame.channel, frame.id)
                if self._held:
                    await self._release_due()
            if self._held:
                await self._release_due()

    def _hold(self, frame: Frame) -> bool:
        """Keep a votes frame back (VOTES_HOLD_S) for the next frame of its channel; True when held."""
        if frame.channel in self._held or not frame.text.startswith(_VOTES_HEAD):
            return False
        loop = asyncio.get_running_loop()
        self._held[frame.channel] = (frame, loop.time() + VOTES_HOLD_S)
        loop.call_later(VOTES_HOLD_S, self._inbox_ready.set)
        return True

    async def _release(self, channel: str) -> None:
        held = self._held.pop(channel, None)
        if held is not None:
            await self._fan_out([held[0]])

    async def _release_due(self) -> None:
        now = asyncio.get_running_loop().time()
        for channel, (_frame, until) in list(self._held.items()):
            if until <= now + 0.01:  # a timer may fire a clock tick early
                try:
                    await self._release(channel)
                except Exception:
                    log.exception("delivery of a held frame of %s failed", channel)

    def _coalesce(self, frame: Frame) -> list[Frame]:
        """`frame` and the frames right after it in its channel that already wait in the inbox (see
        COALESCE_FRAMES). Frames of other channels and notices keep their places (a notice may then reach its
        asker just after a later frame of the channel: notices are not numbered); the scan stops at the
        channel's own heartbeat or presence, whose position must not fall behind what came before it."""
        inbox = self._inbox
        if not inbox:
            return [frame]
        frames = [frame]
        size = len(frame.text)
        taken: list[int] = []
        for index, later in enumerate(inbox):
            if index >= COALESCE_SCAN or len(frames) >= COALESCE_FRAMES:
                break
            if later.channel != frame.channel:
                continue  # another channel, or a notice: left where it is
            if isinstance(later, Unnumbered):
                break
            if later.id != frames[-1].id + 1 or size + len(later.text) > COALESCE_BYTES:
                break
            frames.append(later)
            size += len(later.text)
            taken.append(index)
        for index in reversed(taken):
            del inbox[index]
        return frames

    async def _fan_out(self, frames: list[Frame]) -> None:
        """Frames of one channel with consecutive ids (usually one; several when the fan-out is behind)."""
        channel = frames[0].channel
        members = self._by_channel.get(channel)
        if not members:
            return
        encoded = [encode_text(frame.text) for frame in frames]
        data = encoded[0] if len(encoded) == 1 else b"".join(encoded)
        first_id, last_id = frames[0].id, frames[-1].id
        cohort = self._cohorts[channel]
        # Connections in step take one batch write per slice (cohort.py), every frame in it; the rest, one by one.
        written = await cohort.write(
            last_id, data, FANOUT_SLICE, lambda conn: _write_direct(conn, data), first_id=first_id
        )
        sent = written * len(frames)
        last = len(frames) - 1
        for conn in list(cohort.outside):
            for index, frame in enumerate(frames):
                if conn.closed:
                    break
                frame_id = frame.id
                if (
                    conn.last_id == frame_id - 1
                    and conn.writer is not None
                    and conn.syncing is None
                    and not conn.busy
                    and _write_direct(conn, encoded[index])
                ):
                    conn.last_id = frame_id
                    sent += 1
                    if index == last:
                        cohort.join(conn)  # in step and on the direct path: batched from the next frame on
                    continue
                sent += self.offer(conn, frame, encoded[index])
        self.metrics.ws_deliveries.inc(sent)

    async def _fan_out_unnumbered(self, frame: Unnumbered) -> None:
        # Heartbeats and presence: the same slices as a numbered frame (the loop gets its turns), ids untouched.
        if not self._by_channel.get(frame.channel):
            return
        data = encode_text(frame.text)
        cohort = self._cohorts[frame.channel]
        sent = await cohort.write(None, data, FANOUT_SLICE, lambda conn: _write_direct(conn, data))
        for conn in list(cohort.outside):
            if not conn.closed and conn.syncing is None:
                sent += self.push(conn, frame.text, data)
        self.metrics.ws_deliveries.inc(sent)

    def resync(self) -> None:
        """The bus lost its numbering (Redis came back empty): every connection starts again from a snapshot."""
        for conns in list(self._by_channel.values()):
            for conn in list(conns):
                if conn.closed:
                    continue
                self.park(conn)  # live frames wait until the client's fresh hello brings it up to date
                self.push(conn, '{"type":"resync_required"}')

    def park(self, conn: Connection) -> None:
        """Hold live frames for `conn` while it is brought up to date again (a fresh hello)."""
        self._leave(conn)
        conn.syncing = []

    def _leave(self, conn: Connection) -> None:
        cohort = self._cohorts.get(conn.channel)
        if cohort is not None:
            cohort.leave(conn)

    def offer(self, conn: Connection, frame: Frame, data: bytes | None = None) -> bool:
        """Send `frame` if it is the next one this connection expects; True when written now."""
        if conn.closed:
            return False
        if conn.syncing is not None:
            if len(conn.syncing) >= OUTBOX_LIMIT:
                self._evict(conn)  # it cannot catch up faster than the event moves on
                return False
            conn.syncing.append(frame)
            return False
        if frame.id <= conn.last_id:
            return False  # already sent (replay and live overlap)
        if frame.id != conn.last_id + 1:
            # A frame went missing between bus and hub (e.g. a listener reconnect): fetch the gap.
            if conn.on_gap is not None:
                conn.syncing = [frame]
                conn.on_gap(conn)
            return False
        conn.last_id = frame.id
        return self.push(conn, frame.text, data)

    def _deliver_notice(self, frame: Frame) -> None:
        body = json.loads(frame.text)["data"]
        event_id = int(frame.channel.split(":", 1)[1])
        text = json.dumps({"type": "notice", "data": body["notice"]}, ensure_ascii=False)
        data = encode_text(text)
        for pid in body["to"]:
            for conn in list(self._by_participant.get(pid, ())):
                if conn.event_id == event_id and self.push(conn, text, data):
                    self.metrics.ws_deliveries.inc()

    def push(self, conn: Connection, text: str, data: bytes | None = None) -> bool:
        """Send one text frame (`data`: its prepared bytes, if the caller built them). True: written now."""
        if conn.closed:
            return False
        if conn.busy:
            if conn.outbox is None:
                conn.outbox = deque()
            conn.outbox.append(text)
            conn.outbox_bytes += len(text)
            if self._queued(conn) > OUTBOX_BYTES:
                self._evict(conn)
            return False
        if conn.writer is not None:
            if _write_direct(conn, data if data is not None else encode_text(text)):
                return True
            if conn.closed:
                return False
        coro = conn.ws.send_text(text)
        try:
            done, yielded = step(coro)
        except Exception:
            conn.closed = True  # the peer went away; its endpoint loop will notice and clean up
            return False
        if not done:
            conn.busy = True
            self._leave(conn)  # later frames queue behind this send, in order
            self._spawn(self._drain(conn, coro, yielded))
            return False
        return True

    async def _drain(self, conn: Connection, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        # Finish the send that `push` started (suspended on `yielded`), then empty the outbox in order.
        try:
            await finish(coro, yielded)
            self.metrics.ws_deliveries.inc()
            while conn.outbox and not conn.closed:
                text = conn.outbox.popleft()  # (emptied to None by remove and evict, which also close)
                conn.outbox_bytes -= len(text)
                await conn.ws.send_text(text)
                self.metrics.ws_deliveries.inc()
        except Exception:
            conn.closed = True
        finally:
            conn.busy = False

    @staticmethod
    def _queued(conn: Connection) -> int:
        """Bytes waiting for this client: the outbox's frames plus what the transport and kernel hold."""
        return conn.outbox_bytes + (conn.writer.queued_bytes() if conn.writer is not None else 0)

    def _stalled(self, conn: Connection) -> None:
        # No pong in time: the client stopped reading (or reads slower than the event moves on).
        if not conn.closed:
            self._evict(conn)
        elif conn.writer is not None:
            conn.writer.close_now(CLOSE_TOO_SLOW, "too slow; resume with your last id")

    def _evict(self, conn: Connection) -> None:
        if conn.closed:
            return
        self._leave(conn)
        conn.closed = True
        conn.outbox = None
        conn.outbox_bytes = 0
        self.metrics.ws_evictions.inc()
        reason = "too slow; resume with your last id"
        # The close frame goes out now, behind what the socket already holds (an ASGI close would wait
        # for a backed-up socket to drain, i.e. forever for a client that stopped reading).
        if conn.writer is None or not conn.writer.close_now(CLOSE_TOO_SLOW, reason):
            self._spawn(_close(conn.ws, CLOSE_TOO_SLOW, reason))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # periodic frames -------------------------------------------------------------------------------
    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            for channel in list(self._by_channel):
                try:
                    position = await self.bus.position(channel)
                except BusUnavailable:
                    continue  # Redis is away: no position to tell; the next beat will

                text = json.dumps({"type": "heartbeat", "data": {"position": position}})
                self._broadcast(channel, text)

    async def _presence_loop(self) -> None:
        while True:
            await asyncio.sleep(self.presence_s / 2)
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
                self._broadcast(channel, text)

    def _broadcast(self, channel: str, text: str) -> None:
        # Unnumbered frames (heartbeat, presence) to every connection that is not mid-sync, in line behind
        # the numbered frames already waiting (so a heartbeat's position is never ahead of what came before).
        if self._by_channel.get(channel):
            self._inbox.append(Unnumbered(channel, 0, text))
            self._inbox_ready.set()

    def viewers(self, event_id: int) -> int:
        return self._presence.get(event_id, self.local_viewers(event_id))


def _write_direct(conn: Connection, data: bytes) -> bool:
    writer = conn.writer
    if writer is None:
        return False
    try:
        return writer.write(data)
    except Exception:
        conn.closed = True  # the transport failed; the endpoint loop will notice and clean up
        return False


async def _close(ws: Sender, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await ws.close(code, reason)
