"""WebSocket keepalive for the hub's connections: one ping sweep for all of them instead of timers per socket.

uvicorn pings each socket on its own timer: per ping a `call_later`, a random payload, websockets' Python
frame serialiser, one lone `write` and a pong deadline timer, and per pong a cancel and a new timer. At
5,000 viewers with a ping every 4 s that was ~30 % of the loop's time in the fan-out bench (py-spy,
bench/README.md), more than the approvals' fan-out itself. Here every `WS_PING_SECONDS` one ping frame is
built (a fresh random payload per sweep) and written to every adopted socket in slices, the writes looped
in C like a fan-out (wire.py); a pong only records which sweep it answered. `WS_PONG_SECONDS` after a
slice was pinged, its sockets that have not answered that sweep (or a later one) are reported stalled
(server/protocols.py `keepalive_timeout`: the hub evicts them with 4008), as uvicorn's pong deadline did.

A socket is adopted once the hub holds it (after the handshake, on the direct path); until then, and for
connections the hub never holds (replay attendance), uvicorn's own keepalive runs as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import deque
from collections.abc import Callable
from itertools import repeat
from operator import attrgetter, call
from typing import Any

from websockets.frames import Frame, Opcode

# Sockets pinged per turn of the event loop (a ping write is a fan-out write: ~10 µs each).
SWEEP_SLICE = 250
# Sweeps whose payload still counts when its pong arrives: the current one and the one before (a pong
# may arrive after the next sweep started, when the ping interval is shorter than the pong deadline).
REMEMBERED = 2


def ping_frame(payload: bytes) -> bytes:
    """An unmasked server PING frame."""
    return Frame(Opcode.PING, payload).serialize(mask=False, extensions=[])


class Keepalive:
    """Pings every adopted protocol once per `interval`; reports those silent `timeout` after their ping."""

    def __init__(self, interval: float, timeout: float) -> None:
        self.interval = interval
        self.timeout = timeout
        self.sweeps = 0
        # protocol -> its transport's bound `is_closing` and `write`, in adoption order (looked up once)
        self._members: dict[Any, tuple[Callable[[], bool], Callable[[bytes], None]]] = {}
        self._payloads: dict[bytes, int] = {}  # recent sweeps' payloads -> sweep number
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._members)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ws-keepalive")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def adopt(self, protocol: Any) -> None:
        """From now on `protocol` is pinged by the sweep (its own timers stop); it answered no sweep yet."""
        protocol.stop_keepalive()
        protocol.keepalive = self
        protocol.pong_sweep = self.sweeps  # counts as answered up to now: its first deadline is a sweep away
        transport = protocol.transport
        self._members[protocol] = (transport.is_closing, transport.write)

    def drop(self, protocol: Any) -> None:
        self._members.pop(protocol, None)

    def pong(self, protocol: Any, payload: bytes) -> None:
        sweep = self._payloads.get(payload)
        if sweep is not None and sweep > protocol.pong_sweep:
            protocol.pong_sweep = sweep

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.sweep()

    async def sweep(self) -> None:
        """Ping every member once, `SWEEP_SLICE` per turn of the loop, and set each slice's pong deadline."""
        self.sweeps += 1
        sweep = self.sweeps
        payload = os.urandom(4)
        self._payloads[payload] = sweep
        while len(self._payloads) > REMEMBERED:
            del self._payloads[next(iter(self._payloads))]
        data = ping_frame(payload)
        loop = asyncio.get_running_loop()
        members = list(self._members.items())
        for start in range(0, len(members), SWEEP_SLICE):
            if start:
                await asyncio.sleep(0)
            chunk = members[start : start + SWEEP_SLICE]
            protocols = [p for p, _ in chunk]
            if any(map(_close_sent, protocols)) or any(map(call, [closing for _, (closing, _) in chunk])):
                chunk = [(p, fns) for p, fns in chunk if _pingable(p)]  # rare: one is closing; check each
                protocols = [p for p, _ in chunk]
            pending = iter([write for _, (_, write) in chunk])
            try:
                deque(map(call, pending, repeat(data)), maxlen=0)
            except Exception:
                # One transport raised (its connection is going away): the rest of the slice still gets its ping.
                for write in pending:
                    with contextlib.suppress(Exception):
                        write(data)
            loop.call_later(self.timeout, self._deadline, sweep, protocols)

    def _deadline(self, sweep: int, pinged: list[Any]) -> None:
        for protocol in pinged:
            if protocol.pong_sweep < sweep and protocol in self._members and _pingable(protocol):
                self.drop(protocol)
                protocol.keepalive_timeout()


_close_sent = attrgetter("close_sent")


def _pingable(protocol: Any) -> bool:
    return not (protocol.close_sent or protocol.disconnected or protocol.transport.is_closing())
