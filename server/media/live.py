"""A feed's live edge on the event loop: the playlist and recent media bytes, and who waits for what.

The writer thread hands every change over as a `LiveUpdate` (hls.py); from then on serving costs
no disk and no rendering: every viewer gets the same playlist bytes and the same part and segment
bytes. Blocking playlist reloads (`_HLS_msn`/`_HLS_part`) and requests for the hinted next part
park on one future per (media sequence, part) shared by all who wait for it, settled the moment
the writer publishes that part.

Each part and segment is also put once into a `MediaFile` (an anonymous in-memory file, memfd), so
the raw HTTP path (rawhttp.py) hands the same pages to every viewer's socket with `sendfile`: the
bytes are never copied per viewer in Python, nor in the kernel on their way in.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from .hls import LiveUpdate

_PART = re.compile(r"^(\d{6})\.(\d{1,3})\.ts$")


class MediaFile:
    """A published part or segment's bytes, and the same bytes in a memfd to `sendfile` from.

    The descriptor closes when the last reference goes: a response still sending from it holds one,
    so a file dropped from the live window while viewers are fetching it stays valid until they are done.
    `fd` is -1 where memfd is not available (not Linux): the bytes are then written as they are.
    """

    __slots__ = ("data", "fd", "size")

    def __init__(self, name: str, data: bytes) -> None:
        self.data = data
        self.size = len(data)
        self.fd = -1
        create = getattr(os, "memfd_create", None)
        if create is None or not data:
            return
        fd = create(name, os.MFD_CLOEXEC)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except OSError:
            os.close(fd)
            return
        self.fd = fd

    def __del__(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class DiskFile:
    """A segment file of the feed directory, open for one response: `sendfile` from it like a `MediaFile`
    (`data` is read only if the bytes must go through the transport after all)."""

    __slots__ = ("fd", "size")

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.size = size

    @classmethod
    def open(cls, path: Path) -> DiskFile | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            return cls(fd, os.fstat(fd).st_size)
        except OSError:
            os.close(fd)
            return None

    @property
    def data(self) -> bytes:
        return os.pread(self.fd, self.size, 0)

    def __del__(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class LiveEdge:
    def __init__(self) -> None:
        self.playlist: bytes | None = None
        self.delta: bytes = b""  # the playlist's delta update, for `_HLS_skip=YES` (DVR: the event is long)
        self.bandwidth = 0  # peak and average segment bit rates, codecs: for the multivariant playlist
        self.average_bandwidth = 0
        self.codecs = ""
        self.blobs: dict[str, bytes] = {}
        self.files: dict[str, MediaFile] = {}  # the same as `blobs`, each in a memfd (rawhttp.py sends them)
        self.open_sequence: int | None = None
        self.open_parts = 0
        self.last_closed = -1
        self.ended = False
        self.updates = 0
        # When each recent part became servable here (loop time): what blocking-reload tests measure against.
        self.part_ready: dict[str, float] = {}
        self._waiters: dict[tuple[int, int | None], asyncio.Future[None]] = {}
        self._released = False

    def release(self) -> None:
        """The feed is closing: let go of every memfd now (a response still sending keeps its own) and make
        no more; the bytes stay, so anything still asked is answered from memory. Descriptors must not wait
        for the garbage collector, which the heap steward may have frozen."""
        self._released = True
        self.files.clear()

    def apply(self, update: LiveUpdate) -> None:
        """On the event loop, for each update of the writer thread, in order."""
        now = asyncio.get_running_loop().time()
        self.playlist = update.playlist
        self.delta = update.delta
        self.bandwidth, self.average_bandwidth, self.codecs = update.bandwidth, update.average_bandwidth, update.codecs
        self.blobs.update(update.blobs)
        if not self._released:
            for name, data in update.blobs.items():
                self.files[name] = MediaFile(name, data)
        for name in [n for n in self.blobs if n not in update.listed and n not in update.blobs]:
            del self.blobs[name]
            self.files.pop(name, None)
        for part in update.parts:
            self.part_ready[part.name] = now
        for name in [n for n in self.part_ready if n not in self.blobs]:
            del self.part_ready[name]
        self.open_sequence = update.open_sequence
        self.open_parts = update.open_parts
        self.last_closed = update.last_closed
        self.ended = update.ended
        self.updates += 1
        for key, future in list(self._waiters.items()):
            if self.ended or self.has(*key):
                del self._waiters[key]
                if not future.done():
                    future.set_result(None)

    def has(self, sequence: int, part: int | None) -> bool:
        """Whether the playlist lists segment `sequence` complete (`part` None) or its part `part`."""
        if sequence <= self.last_closed:
            return True
        return part is not None and sequence == self.open_sequence and part < self.open_parts

    @property
    def next_sequence(self) -> int:
        """The media sequence number the next segment to be listed has."""
        return self.open_sequence if self.open_sequence is not None else self.last_closed + 1

    async def wait_for(self, sequence: int, part: int | None, timeout: float) -> bool:
        """Until `has(sequence, part)` (True) or `timeout` s or the end of the stream (False)."""
        if self.has(sequence, part):
            return True
        if self.ended:
            return False
        try:
            await asyncio.wait_for(asyncio.shield(self.future(sequence, part)), timeout)
        except TimeoutError:
            return False
        return self.has(sequence, part)

    def future(self, sequence: int, part: int | None) -> asyncio.Future[None]:
        """The one future everyone waiting for (sequence, part) shares: done once it is here or the stream
        ended. Waiters add a callback (rawhttp.py) or await it shielded (`wait_for`); none may cancel it."""
        key = (sequence, part)
        future = self._waiters.get(key)
        if future is None:
            future = self._waiters[key] = asyncio.get_running_loop().create_future()
            if self.ended or self.has(sequence, part):
                del self._waiters[key]
                future.set_result(None)
        return future

    def upcoming_part(self, name: str) -> tuple[int, int] | None:
        """(sequence, index) when `name` is a part that is not here yet but may soon be (the hinted one,
        or one just after it); None for anything else."""
        match = _PART.match(name)
        if match is None or self.ended:
            return None
        sequence, index = int(match.group(1)), int(match.group(2))
        if self.has(sequence, index) or not self.next_sequence <= sequence <= self.next_sequence + 1:
            return None
        return sequence, index

    def playlist_for(self, skip: bool) -> bytes:
        """The full playlist, or (`skip`: the player asked `_HLS_skip=YES`) its delta update when there is one."""
        assert self.playlist is not None
        return self.delta if skip and self.delta else self.playlist

    @property
    def waiting(self) -> int:
        """Distinct (sequence, part) positions someone waits for (not the number of waiters)."""
        return len(self._waiters)
