"""The connections of one channel that are in step with it: each frame reaches them as one batch write.

A connection joins once a live frame was written to it directly (it is caught up, idle, on the direct
path) and stays while every frame goes the same way. Anything else makes it leave, with its `last_id`
set to the last frame it really got, and the hub's per-connection path takes over from there: it went
backed up or closing (the batch's checks), it went busy on the ASGI path, it was parked for a fresh
hello, it was evicted or removed, or the channel skipped an id.

A fan-out yields to the event loop between slices, so a connection may leave half-way through one: it
then has the frame if its slice was already written, and its slice is checked one by one if not.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from server.realtime.wire import Batch

if TYPE_CHECKING:
    from server.realtime.hub import Connection

# How long one slice of a fan-out may hold the event loop. Every step of a command (a request read, each
# hand-over from the database's thread, the response) waits for at most one slice, so this bounds what a
# fan-out adds to a moderator's click: a dozen steps x 1 ms. Slices are sized from the measured cost of a
# batched write (~5-15 us a socket, more on a loaded machine), re-measured every frame.
SLICE_BUDGET_S = 0.001
MIN_SLICE = 16


class _Slice:
    __slots__ = ("batch", "conns", "dirty")

    def __init__(self, conns: list[Connection]) -> None:
        self.conns = conns
        writers = [w for c in conns if (w := c.writer) is not None]
        assert len(writers) == len(conns), "only connections on the direct path join"
        self.batch = Batch(writers)
        self.dirty = False  # a member left while a fan-out was under way: check each one


class Cohort:
    def __init__(self) -> None:
        self.head = 0  # the id of the last frame written to every member
        self.outside: set[Connection] = set()  # the channel's other connections
        self._members: dict[Connection, int] = {}  # connection -> its index in the slices
        self._slices: list[_Slice] | None = None  # None: rebuilt at the next frame
        # (last frame id or None for an unnumbered frame, first frame id, slices, slices done)
        self._writing: tuple[int | None, int, list[_Slice], int] | None = None
        self._size = 0  # sockets per slice (0: not measured yet)
        self._per_socket_s = 0.0  # smoothed cost of one batched write

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, conn: Connection) -> bool:
        return conn in self._members

    def add(self, conn: Connection) -> None:
        self.outside.add(conn)

    def discard(self, conn: Connection) -> None:
        self.leave(conn)
        self.outside.discard(conn)

    def join(self, conn: Connection) -> None:
        """`conn` has exactly the frames up to `head` and was just written to directly."""
        self.outside.discard(conn)
        self._members[conn] = -1
        self._slices = None

    def leave(self, conn: Connection) -> None:
        slot = self._members.pop(conn, None)
        if slot is None:
            return
        self.outside.add(conn)
        self._slices = None
        writing = self._writing
        if writing is None or slot < 0:
            conn.last_id = self.head
            return
        frame_id, first_id, slices, done = writing
        index = slot // len(slices[0].conns)
        if frame_id is None:  # an unnumbered frame: the ids are untouched
            conn.last_id = self.head
            if index >= done:
                slices[index].dirty = True
        elif index < done:
            conn.last_id = frame_id
        else:
            conn.last_id = first_id - 1
            slices[index].dirty = True

    def dissolve(self) -> None:
        for conn in list(self._members):
            self.leave(conn)

    async def write(
        self,
        frame_id: int | None,
        data: bytes,
        size: int,
        one_by_one: Callable[[Connection], bool],
        first_id: int | None = None,
    ) -> int:
        """Write frame `frame_id` (None: an unnumbered frame) to every member, at most `size` sockets per turn
        of the event loop; the count written. `data` may hold several frames, `first_id` to `frame_id`.

        A slice whose batch checks fail goes one by one through `one_by_one` (True: written directly);
        members it could not write leave (into `outside`, where the hub's per-connection path takes them)."""
        first = frame_id if first_id is None else first_id
        if frame_id is not None and self._members and first != self.head + 1:
            self.dissolve()  # the channel skipped an id: each connection asks for the gap on its own
        if not self._members:
            if frame_id is not None:
                self.head = frame_id
            return 0
        slices = self._build(size)
        self._writing = (frame_id, first or 0, slices, 0)
        sent = 0
        clock = time.perf_counter
        spent = 0.0
        batched = 0
        try:
            for index, piece in enumerate(slices):
                if index:
                    await asyncio.sleep(0)
                start = 0
                if not piece.dirty and piece.batch.ready():
                    began = clock()
                    start = piece.batch.write(data)
                    spent += clock() - began
                    batched += start
                    sent += start
                    if start < len(piece.conns):
                        failed = piece.conns[start]
                        failed.closed = True  # its transport raised: the endpoint notices and cleans up
                        self.leave(failed)
                        start += 1
                for conn in piece.conns[start:]:
                    if conn not in self._members:
                        continue  # left during this fan-out; the hub writes it with the outsiders
                    if one_by_one(conn):
                        sent += 1
                    else:
                        self.leave(conn)
                self._writing = (frame_id, first or 0, slices, index + 1)
        finally:
            self._writing = None
            if frame_id is not None:
                self.head = frame_id
        if batched:
            self._resize(spent / batched, size)
        return sent

    def _resize(self, per_socket_s: float, most: int) -> None:
        # Smoothed, and slices rebuilt only on a real change: one slow frame (a preemption) moves little.
        self._per_socket_s = per_socket_s if not self._per_socket_s else 0.8 * self._per_socket_s + 0.2 * per_socket_s
        wanted = max(MIN_SLICE, min(most, int(SLICE_BUDGET_S / max(self._per_socket_s, 1e-7))))
        wanted = 1 << (wanted.bit_length() - 1)  # a power of two: slices are rebuilt only when the cost doubles
        if wanted != self._size:
            self._size = wanted
            self._slices = None

    def _build(self, size: int) -> list[_Slice]:
        size = min(size, self._size) if self._size else size
        if self._slices is None:
            conns = list(self._members)
            for slot, conn in enumerate(conns):
                self._members[conn] = slot
            self._slices = [_Slice(conns[i : i + size]) for i in range(0, len(conns), size)]
        return self._slices
