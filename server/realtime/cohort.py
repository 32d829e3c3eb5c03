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
from collections.abc import Callable
from typing import TYPE_CHECKING

from server.realtime.wire import Batch

if TYPE_CHECKING:
    from server.realtime.hub import Connection


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
        self._writing: tuple[int, list[_Slice], int] | None = None  # (frame id, slices, slices done)

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
        frame_id, slices, done = writing
        index = slot // len(slices[0].conns)
        if index < done:
            conn.last_id = frame_id
        else:
            conn.last_id = frame_id - 1
            slices[index].dirty = True

    def dissolve(self) -> None:
        for conn in list(self._members):
            self.leave(conn)

    async def write(self, frame_id: int, data: bytes, size: int, one_by_one: Callable[[Connection], bool]) -> int:
        """Write frame `frame_id` to every member, `size` sockets per turn of the event loop; the count written.

        A slice whose batch checks fail goes one by one through `one_by_one` (True: written directly);
        members it could not write leave (into `outside`, where the hub's per-connection path takes them)."""
        if self._members and frame_id != self.head + 1:
            self.dissolve()  # the channel skipped an id: each connection asks for the gap on its own
        if not self._members:
            self.head = frame_id
            return 0
        slices = self._build(size)
        self._writing = (frame_id, slices, 0)
        sent = 0
        try:
            for index, piece in enumerate(slices):
                if index:
                    await asyncio.sleep(0)
                start = 0
                if not piece.dirty and piece.batch.ready():
                    start = piece.batch.write(data)
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
                self._writing = (frame_id, slices, index + 1)
        finally:
            self._writing = None
            self.head = frame_id
        return sent

    def _build(self, size: int) -> list[_Slice]:
        if self._slices is None:
            conns = list(self._members)
            for slot, conn in enumerate(conns):
                self._members[conn] = slot
            self._slices = [_Slice(conns[i : i + size]) for i in range(0, len(conns), size)]
        return self._slices
