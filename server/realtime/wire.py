"""Writing one prepared WebSocket frame to thousands of sockets: serialise once, `transport.write` each.

The ASGI path costs ~20 µs of Python per socket and frame (Starlette's send wrappers, uvicorn's
per-call `str.encode`, websockets' framing), against ~4 µs for the write itself: at 5,000 viewers that
is the difference between keeping up and not (bench/README.md, "Where Sitecast's time goes"). A server
frame is unmasked and, without extensions, identical for every socket, so the hub builds its bytes once
(with websockets' own serialiser) and writes them straight to each connection's transport.

That reaches below ASGI into uvicorn's `websockets-sansio` protocol (the Procfile's `--ws`), so it is
guarded: `DirectWriter.attach` returns a writer only for that protocol class and a connection that
negotiated no extension (permessage-deflate compresses per socket), and every write re-checks that the
connection is open and writable (not paused by flow control). Anything else falls back to the ASGI send,
which stays the reference path; tests/server/test_wire.py runs the hub both ways and pins the uvicorn
attributes used. `Batch` does the same checks and writes for many connections at once, looped in C
(`map` over bound methods), for the sockets that are in step with their channel (cohort.py).

The protocol is server/protocols.py's subclass of it (any subclass is accepted), which also counts a
socket's queued bytes, reports a client that stopped answering pings, and closes without waiting for a
backed-up socket to drain. The events socket below ASGI (rawws.py) has the same methods and its own
`LeanWriter`, `write`'s checks for its state; `Batch` takes both.

uvicorn internals relied on (all of `WebSocketsSansIOProtocol`, uvicorn 0.54): `transport`, `conn`
(websockets' sans-I/O protocol: `extensions`, `state`), `disconnected`, `close_sent`,
`handshake_complete`, `writable`; and that the server `send` of a WebSocket scope is the protocol's bound
`send` method (how `attach` finds it).
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from itertools import repeat
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send
from websockets.frames import Frame, Opcode
from websockets.protocol import State

# A transport holding this much unsent is backed up (asyncio's default high-water mark): its connection
# leaves the batch and takes the ASGI path, which waits for the socket to drain.
BACKED_UP_BYTES = 64 * 1024

# Where RawSend leaves the server's own `send` callable in a WebSocket scope.
SCOPE_KEY = "sitecast.server_send"


def encode_text(text: str) -> bytes:
    """An unmasked, unfragmented, uncompressed server text frame."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])


class RawSend:
    """Outermost ASGI middleware: remembers the server's `send` for WebSocket connections, and serves the
    WebSocket routes in `direct` (route, its endpoint as an ASGI app) itself, past the rest of the middleware
    and the router, which do nothing for a WebSocket but would each hold a frame for the socket's life."""

    def __init__(self, app: ASGIApp, direct: Sequence[tuple[BaseRoute, ASGIApp]] = ()) -> None:
        self.app = app
        self.direct = list(direct)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine: it hands back the awaitable of whatever serves the scope, so a socket's life holds
        # no suspended frame of this middleware either.
        if scope["type"] == "websocket":
            scope[SCOPE_KEY] = send
            for route, endpoint in self.direct:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child_scope)
                    return endpoint(scope, receive, send)
        return self.app(scope, receive, send)


def _sansio_protocol_class() -> type | None:
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    except ImportError:  # pragma: no cover - uvicorn without websockets installed
        return None
    return WebSocketsSansIOProtocol


_SANSIO = _sansio_protocol_class()


class DirectWriter:
    """Writes prepared frames to one uvicorn sans-I/O WebSocket connection's transport."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol

    @classmethod
    def attach(cls, scope: Scope) -> DirectWriter | None:
        send = scope.get(SCOPE_KEY)
        protocol = getattr(send, "__self__", None)
        if _SANSIO is None or not isinstance(protocol, _SANSIO):
            return None
        if protocol.conn.extensions:
            return None  # permessage-deflate (negotiated at the handshake, fixed after): frames differ per socket
        return cls(protocol)

    def queued_bytes(self) -> int:
        """Bytes sent but not yet taken by the client (asyncio's buffer + the kernel's), where the protocol
        can tell (server/protocols.py); else asyncio's buffer alone."""
        p = self._protocol
        queued = getattr(p, "queued_bytes", None)
        if queued is not None:
            return int(queued())
        return 0 if p.transport.is_closing() else int(p.transport.get_write_buffer_size())

    def on_stall(self, callback: Callable[[], None]) -> None:
        """Call `callback` when the client stops answering pings (server/protocols.py); else uvicorn's 1011."""
        if hasattr(self._protocol, "on_stall"):
            self._protocol.on_stall = callback

    def keep_alive(self, keepalive: Any) -> bool:
        """Hand this socket's pings to the hub's sweep (server/realtime/keepalive.py), where the protocol
        supports it (server/protocols.py); False: uvicorn's own per-socket keepalive goes on."""
        if not hasattr(self._protocol, "pong_sweep"):
            return False
        keepalive.adopt(self._protocol)
        return True

    def leave_keepalive(self, keepalive: Any) -> None:
        keepalive.drop(self._protocol)

    def close_now(self, code: int, reason: str) -> bool:
        """Send the close frame at once even when backed up; False: not possible here, use the ASGI close."""
        close = getattr(self._protocol, "close_now", None)
        if close is None:
            return False
        close(code, reason)
        return True

    def write(self, data: bytes) -> bool:
        """True when written; False when this connection must take the ASGI path for now."""
        p = self._protocol
        if (
            p.disconnected
            or p.close_sent
            or not p.handshake_complete
            or not p.writable.is_set()
            or p.conn.state is not State.OPEN
        ):
            return False
        transport = p.transport
        if transport.is_closing():
            return False
        transport.write(data)
        return True


_call = operator.call
_close_sent = operator.attrgetter("close_sent")
_backed_up = BACKED_UP_BYTES.__le__


class Batch:
    """Several direct writers as one: `DirectWriter.write`'s checks and writes, looped in C.

    At 5,000 viewers the per-socket Python of a loop over writers (attribute chains across five objects
    per socket, most of them cache misses) costs a large share of a delivery. Here `map` drives bound C
    methods of the transports and attribute getters of the protocols, so a frame costs little more than
    the `send` syscalls. The checks are those of `write`, for connections that already took a direct write
    (so their handshake is complete and they negotiated no extension): none has sent a close, no transport
    closing (which covers a lost connection: the transport closes before the protocol hears of it), none
    backed up. They run right before the writes, with no await between.
    """

    __slots__ = ("_closing", "_protocols", "_sizes", "_writes")

    def __init__(self, writers: Sequence[DirectWriter]) -> None:
        protocols = [w._protocol for w in writers]
        transports = [p.transport for p in protocols]
        self._protocols = protocols
        self._closing = [t.is_closing for t in transports]
        self._sizes = [t.get_write_buffer_size for t in transports]
        self._writes = [t.write for t in transports]

    def ready(self) -> bool:
        """True when every connection may be written directly now (else check them one by one)."""
        return not (
            any(map(_close_sent, self._protocols))
            or any(map(_call, self._closing))  # also every disconnected one: its transport closed first
            or any(map(_backed_up, map(_call, self._sizes)))
        )

    def write(self, data: bytes) -> int:
        """Write `data` to every transport in order; the count written (short when one raised: that one failed)."""
        pending = iter(self._writes)
        try:
            deque(map(_call, pending, repeat(data)), maxlen=0)
        except Exception:
            return len(self._writes) - operator.length_hint(pending) - 1
        return len(self._writes)
