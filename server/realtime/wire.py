"""Writing one prepared WebSocket frame to thousands of sockets: serialise once, `transport.write` each.

The ASGI path costs ~20 µs of Python per socket and frame (Starlette's send wrappers, uvicorn's
per-call `str.encode`, websockets' framing), against ~4 µs for the write itself: at 5,000 viewers that
is the difference between keeping up and not (bench/README.md, "Where Sitecast's time goes"). A server
frame is unmasked and, without extensions, identical for every socket, so the hub builds its bytes once
(with websockets' own serialiser) and writes them straight to each connection's transport.

That reaches below ASGI into uvicorn's `websockets-sansio` protocol (the Procfile's `--ws`), so it is
guarded: `DirectWriter.attach` returns a writer only for that protocol class and a connection that
negotiated no extension (permessage-deflate compresses per socket), and every write re-checks that the
connection is open and writable (not paused by flow control). Anything else falls back to the ASGI send, which stays the
reference path; tests/server/test_wire.py runs the hub both ways and pins the uvicorn attributes used.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from websockets.frames import Frame, Opcode
from websockets.protocol import State

# Where RawSend leaves the server's own `send` callable in a WebSocket scope.
SCOPE_KEY = "sitecast.server_send"


def encode_text(text: str) -> bytes:
    """An unmasked, unfragmented, uncompressed server text frame."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])


class RawSend:
    """Outermost ASGI middleware: remembers the server's `send` for WebSocket connections."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[SCOPE_KEY] = send
        await self.app(scope, receive, send)


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
        if _SANSIO is None or type(protocol) is not _SANSIO:
            return None
        if protocol.conn.extensions:
            return None  # permessage-deflate (negotiated at the handshake, fixed after): frames differ per socket
        return cls(protocol)

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
