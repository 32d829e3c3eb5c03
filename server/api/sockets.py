"""The socket a viewer's session runs against (server/api/realtime.py), and its ASGI implementation.

Two paths serve the events socket: uvicorn's WebSocket protocol and Starlette (`AsgiSocket`, the reference)
and the lean protocol below ASGI (server/realtime/rawws.py's `ViewerSocket`). Both implement `Socket`, so
the session — auth, hello, snapshot or replay, the hub, the closes — is written once.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Protocol

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.websockets import WebSocket

from server.realtime.wire import DirectWriter

if TYPE_CHECKING:
    from server.api.realtime import Session


class Socket(Protocol):
    """What a viewer's session needs of its socket: the ASGI path (`AsgiSocket`, the reference) and the lean
    path below ASGI (server/realtime/rawws.py) both provide it. Exceptions as Starlette's `WebSocket`:
    `receive_text` raises `WebSocketDisconnect` when the client went away, `KeyError` for a binary message."""

    @property
    def request(self) -> HTTPConnection: ...  # the upgrade request: path, query, headers, cookies

    def deny(self, response: Response) -> Awaitable[None]: ...  # refuse the upgrade with an HTTP response

    def accept(self) -> Awaitable[None]: ...

    def forget_headers(self) -> None: ...  # the handshake's headers are never read after the accept

    def receive_text(self) -> Awaitable[str]: ...

    def send_text(self, text: str) -> Awaitable[None]: ...

    def close(self, code: int, reason: str) -> Awaitable[None]: ...

    def writer(self) -> DirectWriter | None: ...  # the hub's direct path to this socket, if it has one

    def follow(self, session: Session) -> bool:
        """Take over the session's messages after its hello (`on_message`, then `end`); False: the caller
        reads them itself (the ASGI path: a coroutine per socket)."""
        ...


class AsgiSocket:
    """A Starlette `WebSocket` as a `Socket`: the reference path, served through uvicorn's protocol."""

    __slots__ = ("ws",)

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws

    @property
    def request(self) -> HTTPConnection:
        return self.ws

    async def deny(self, response: Response) -> None:
        await self.ws.send_denial_response(response)

    async def accept(self) -> None:
        await self.ws.accept()

    def forget_headers(self) -> None:
        # The handshake's headers (tokens, cookies, Origin) are read before the accept and never after; the
        # scope's list of them and Starlette's parsed copies are ~1.5 KiB a socket. The query string stays.
        self.ws.scope["headers"] = []
        for cached in ("_headers", "_cookies", "_url"):
            self.ws.__dict__.pop(cached, None)

    def receive_text(self) -> Awaitable[str]:
        return self.ws.receive_text()

    def send_text(self, text: str) -> Awaitable[None]:
        return self.ws.send_text(text)

    def close(self, code: int, reason: str) -> Awaitable[None]:
        return self.ws.close(code, reason)

    def writer(self) -> DirectWriter | None:
        return DirectWriter.attach(self.ws.scope)

    def follow(self, session: Session) -> bool:
        return False
