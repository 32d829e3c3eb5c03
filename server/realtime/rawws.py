"""The events socket answered under ASGI: `GET /api/v1/events/{slug}/ws` served by a small protocol of ours.

As server/media/rawhttp.py does for live HLS, server/protocols.py's HTTP protocol hands an upgrade of the
events path to `ViewerSocket` (upgrade.py decides which) instead of uvicorn's WebSocket protocol and
Starlette. It answers the handshake itself (101 and Sec-WebSocket-Accept, or the session's HTTP denial),
parses client frames itself (client_frames.py), writes server frames straight to the transport, and is
pinged by the hub's one sweep (keepalive.py). The session — auth, hello, snapshot or replay, the hub, the
closes — is server/api/realtime.py's, the same code the ASGI path runs; this class is its `Socket`.

A task runs the session until its hello is answered; from then on a socket keeps no task and no
coroutine frame: each client message is handled in `data_received` (a fresh hello's snapshot, which
awaits the database, runs as a task of its own, and messages after it wait their turn). The socket's
objects are this protocol, the frame parser, the hub's `Connection` and the `Session`: no scope, no
queue, no generator, none of the cyclic garbage websockets' parser made per ping/pong (bench/README.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import socket
from http import HTTPStatus
from typing import Any

from starlette.exceptions import WebSocketException
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.websockets import WebSocketDisconnect
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string
from websockets.frames import Close, Frame, Opcode

from server.api import realtime
from server.errors import websocket_refusal
from server.protocols import (
    CLOSE_TOO_SLOW,
    EVICTED_LINGER_SECONDS,
    MAX_CLIENT_MESSAGE_BYTES,
    WS_SEND_BUFFER_BYTES,
    Flag,
    _kernel_queued,
)
from server.realtime.client_frames import BINARY, CLOSE, PING, PONG, TEXT, ClientFrames, Failure
from server.realtime.wire import DirectWriter, encode_text

log = logging.getLogger("uvicorn.error")

# uvicorn's closing handshake: after our close frame, the client has this long to answer before the
# connection is closed anyway (uvicorn's `close_timeout`).
CLOSE_TIMEOUT_SECONDS = 10.0
# Messages waiting for the session's first read before the socket stops reading (uvicorn stops at one).
INBOX_PAUSE = 16
# Bytes a client may send before its handshake is answered (during the session's auth lookup); they are
# parsed once it is accepted, never before (a pong or a close frame must not precede the 101). Past
# this the socket stops reading until then.
EARLY_BYTES = 2 * MAX_CLIENT_MESSAGE_BYTES


class LeanWriter(DirectWriter):
    """The hub's direct path to a `ViewerSocket` (wire.py's checks, for this protocol's state)."""

    __slots__ = ()

    def write(self, data: bytes) -> bool:
        p = self._protocol
        if p.close_sent or not p.writable._value:
            return False
        transport = p.transport
        if transport.is_closing():
            return False
        transport.write(data)
        return True


class ViewerSocket(asyncio.Protocol):
    """One events socket past its handshake request: server/api/realtime.py's `Socket`, below ASGI."""

    __slots__ = (
        "_client_closed", "_close_timer", "_early", "_frames", "_inbox", "_key", "_linger", "_pong", "_queue",
        "_request", "_running", "_session", "_state", "_waiter", "close_sent", "disconnected", "handshake_complete",
        "keepalive", "loop", "on_stall", "pong_sweep", "read_paused", "transport", "writable",
    )  # fmt: skip
    # uvicorn's per-socket keepalive timers, read by tests of the sweep: this protocol never has any.
    ping_timer = pong_timer = None

    def __init__(self, transport: asyncio.Transport, server_state: Any, request: HTTPConnection, key: str) -> None:
        self.transport = transport
        self.loop = asyncio.get_running_loop()
        self._state = server_state
        self._request: HTTPConnection | None = request
        self._key = key
        self._frames = ClientFrames(MAX_CLIENT_MESSAGE_BYTES)
        self._inbox: list[tuple[int, Any]] | None = []  # messages until the session follows; then None
        self._waiter: asyncio.Future[None] | None = None
        self._session: realtime.Session | None = None  # set when the session hands its messages over
        self._running: asyncio.Task[None] | None = None  # a message's step that awaits (a fresh hello)
        self._queue: list[tuple[int, Any]] | None = None  # messages that arrived during that step
        self._close_timer: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None  # drops the connection if a close never completes
        self._early: bytes | None = b""  # what arrived before the handshake was answered; None after
        self._pong: bytes | None = None  # the latest ping's payload, while the socket cannot be written
        self._client_closed = False
        self.close_sent = False
        self.disconnected = False
        self.handshake_complete = False
        self.read_paused = False
        self.writable = Flag()
        self.keepalive: Any = None  # set by the hub's sweep when it adopts this socket
        self.pong_sweep = 0
        self.on_stall: Any = None  # set by the hub

    def start(self) -> None:
        self._state.connections.add(self)
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, WS_SEND_BUFFER_BYTES)
        task = self.loop.create_task(self._serve())
        tasks = self._state.tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def _serve(self) -> None:
        try:
            await realtime.serve(self)
        except Exception as exc:
            await self._failed(exc)
        if self._session is None and self._close_timer is None:
            self._close_transport()  # as uvicorn does when the ASGI app returns

    async def _failed(self, exc: Exception) -> None:
        # As the route's exception handling does on the ASGI path (server/api/realtime.py `asgi_endpoint`).
        if isinstance(exc, WebSocketException):
            await self.close(exc.code, exc.reason)
            return
        if not any(cls in realtime._HANDLERS for cls in type(exc).__mro__):
            log.error("Exception in ASGI application\n", exc_info=exc)
            if not self.handshake_complete:
                self._respond(500, [(b"content-type", b"text/plain; charset=utf-8")], b"Internal Server Error\n")
            return
        path = self._request.url.path if self._request is not None else "/ws"
        code, reason, response = websocket_refusal(exc, path)
        with contextlib.suppress(Exception):
            if self.handshake_complete:
                await self.close(code, reason)
            else:
                await self.deny(response)

    # Socket (server/api/realtime.py) ---------------------------------------------------------------
    @property
    def request(self) -> HTTPConnection:
        assert self._request is not None, "read before the accept"
        return self._request

    async def deny(self, response: Response) -> None:
        self._log("%d", response.status_code)
        self._respond(response.status_code, response.raw_headers, bytes(response.body))

    def _respond(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        if self.handshake_complete:
            return
        self.handshake_complete = self.close_sent = True
        names = {name.lower() for name, _ in headers}
        extra = [(b"date", email.utils.formatdate(usegmt=True).encode())]
        if b"connection" not in names:
            extra.append((b"connection", b"close"))
        if b"content-length" not in names:
            extra.append((b"content-length", str(len(body)).encode()))
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode()]
        lines += [name + b": " + value + b"\r\n" for name, value in [*headers, *extra]]
        self.transport.write(b"".join([*lines, b"\r\n", body]))  # what the client sent meanwhile is never read
        self._close_transport()

    async def accept(self) -> None:
        if self.handshake_complete:
            return
        self._log("[accepted]")
        self.handshake_complete = True
        if self.transport.is_closing():
            return
        head = [
            b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
            b"sec-websocket-accept: " + self._key.encode() + b"\r\n"
        ]
        head += [name + b": " + value + b"\r\n" for name, value in self._state.default_headers]
        self.transport.write(b"".join([*head, b"\r\n"]))
        early, self._early = self._early, None
        if self.read_paused and self._inbox is not None and len(self._inbox) < INBOX_PAUSE:
            self.read_paused = False  # paused for early bytes, which are read now
            self.transport.resume_reading()
        if early:
            self.data_received(early)

    def _log(self, outcome: str, *args: Any) -> None:
        # uvicorn's line for a WebSocket's handshake (its access log at info, as on the ASGI path).
        if self._request is not None and log.isEnabledFor(logging.INFO):
            scope: Any = self._request.scope
            log.info(f'%s - "WebSocket %s" {outcome}', get_client_addr(scope), get_path_with_query_string(scope), *args)

    def forget_headers(self) -> None:
        self._request = None  # the handshake's headers, query and scope are never read after the accept

    async def receive_text(self) -> str:
        while True:
            inbox = self._inbox
            if inbox:
                kind, payload = inbox.pop(0)
                if self.read_paused and len(inbox) < INBOX_PAUSE // 2:
                    self.read_paused = False
                    self.transport.resume_reading()
                if kind == TEXT:
                    return str(payload)
                raise KeyError("text")  # a binary message, as Starlette's `receive_text` fails on one
            if self.disconnected or self.close_sent or inbox is None:
                raise WebSocketDisconnect(1006 if self.disconnected else 1000)
            waiter = self._waiter = self.loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None

    async def send_text(self, text: str) -> None:
        if not self.writable._value:
            await self.writable.wait()
        if self.disconnected or self._client_closed:
            # The client left or closed (e.g. a tab closed during a replay): as websockets' ClientDisconnected
            # is on the ASGI path, never a server error.
            raise WebSocketDisconnect(1006)
        if self.close_sent:
            raise RuntimeError('Cannot call "send" once a close message has been sent.')
        self.transport.write(encode_text(text))

    async def close(self, code: int, reason: str) -> None:
        if not self.writable._value:
            await self.writable.wait()  # behind the sends already waiting, as uvicorn's close
        self._send_close(code, reason)

    def writer(self) -> DirectWriter:
        return LeanWriter(self)

    def follow(self, session: realtime.Session) -> bool:
        self._session = session
        inbox, self._inbox = self._inbox or [], None
        if self.disconnected or self.close_sent or self.transport.is_closing():
            self._end()  # gone during the auth lookup or the snapshot: nothing to adopt
            return True
        if session.conn is None:
            session.c.hub.keepalive.adopt(self)  # replay attendance: the hub's sweep pings it too
        for kind, payload in inbox:
            self._message(kind, payload)
        if self.read_paused and self._running is None:
            self.read_paused = False
            self.transport.resume_reading()
        return True

    # the hub's direct path and keepalive (wire.py, keepalive.py) -----------------------------------
    def queued_bytes(self) -> int:
        transport = self.transport
        if transport.is_closing():
            return 0
        return int(transport.get_write_buffer_size()) + _kernel_queued(transport.get_extra_info("socket"))

    def stop_keepalive(self) -> None:
        return None  # no timers of its own: only the hub's sweep pings this socket

    def keepalive_timeout(self) -> None:
        if self.close_sent or self.transport.is_closing():
            return
        if self.on_stall is not None:
            self.on_stall()
        else:
            self.close_now(CLOSE_TOO_SLOW, "too slow; resume with your last id")

    def close_now(self, code: int, reason: str) -> None:
        """The close frame now, even when backed up; the connection is dropped if the client never takes it."""
        if self.close_sent or self.disconnected or self.transport.is_closing():
            return
        self._send_close(code, reason)
        self._linger = self.loop.call_later(EVICTED_LINGER_SECONDS, self.transport.abort)

    def _send_close(self, code: int, reason: str) -> None:
        if self.close_sent or self.disconnected or self.transport.is_closing():
            return
        if self.keepalive is not None:
            self.keepalive.drop(self)
            self.keepalive = None
        self.close_sent = True
        self.transport.write(Frame(Opcode.CLOSE, Close(code, reason).serialize()).serialize(mask=False))
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self._close_timer = self.loop.call_later(CLOSE_TIMEOUT_SECONDS, self._close_transport)
        self._gone()

    def shutdown(self) -> None:
        """The server is stopping (uvicorn calls this on every connection): 1012, as uvicorn's protocol."""
        if self.handshake_complete and not self.close_sent and not self.transport.is_closing():
            self.close_sent = True
            self.transport.write(Frame(Opcode.CLOSE, Close(1012, "").serialize()).serialize(mask=False))
            self._gone()
        self._close_transport()

    def _close_transport(self) -> None:
        """Close once what is buffered is written. A client that stopped reading keeps its window shut and
        would hold that buffer (and the socket) for good: past CLOSE_TIMEOUT_SECONDS it is dropped."""
        transport = self.transport
        if not transport.is_closing():
            transport.close()
        if self._linger is None and not self.disconnected:
            self._linger = self.loop.call_later(CLOSE_TIMEOUT_SECONDS, transport.abort)

    # asyncio.Protocol ------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        early = self._early
        if early is not None:  # the handshake is not answered yet: kept for then (accept), never parsed now
            self._early = early + data
            if len(self._early) > EARLY_BYTES and not self.read_paused:
                self.read_paused = True
                self.transport.pause_reading()
            return
        try:
            events = self._frames.feed(data)
        except Failure as failure:
            events = None
            code, reason = failure.code, failure.reason
        ping = None
        for kind, payload in events or ():
            if kind in (TEXT, BINARY):
                if not self.close_sent:  # past our close: messages are dropped until the client's close
                    self._message(kind, payload)
            elif kind == PING:
                ping = payload  # the latest only (RFC 6455 5.5.3): a flood of pings costs one pong a read
            elif kind == PONG:
                if self.keepalive is not None:
                    self.keepalive.pong(self, payload)
            elif kind == CLOSE:
                self._closed_by_client(payload)
                return
        if ping is not None:
            self._answer_ping(ping)
        if events is None:
            # A protocol error: websockets' close code and reason, and the connection is dropped at once.
            with contextlib.suppress(Exception):
                self._send_close(code, reason)
            self._close_transport()

    def _answer_ping(self, payload: bytes) -> None:
        if self.transport.is_closing():
            return
        if not self.writable._value:
            self._pong = payload  # a client that does not read gets one pong when it reads again, not a pile
            return
        self.transport.write(Frame(Opcode.PONG, payload).serialize(mask=False))

    def _closed_by_client(self, payload: bytes) -> None:
        self._client_closed = True
        if self.close_sent:
            self._close_transport()  # the client answered our close: the closing handshake is complete
            return
        self.close_sent = True
        if not self.transport.is_closing():
            self.transport.write(Frame(Opcode.CLOSE, payload).serialize(mask=False))  # echoed, as websockets does
        self._close_transport()
        self._gone()

    def _message(self, kind: int, payload: Any) -> None:
        inbox = self._inbox
        if inbox is not None:  # the session's task reads it (hello)
            inbox.append((kind, payload))
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(None)
            if len(inbox) >= INBOX_PAUSE and not self.read_paused:
                self.read_paused = True
                self.transport.pause_reading()
            return
        if self._running is not None:  # a fresh hello is being answered: this one waits its turn
            if self._queue is None:
                self._queue = []
            self._queue.append((kind, payload))
            if len(self._queue) >= INBOX_PAUSE and not self.read_paused:
                self.read_paused = True
                self.transport.pause_reading()
            return
        session = self._session
        if session is None:
            return
        if kind != TEXT:
            self._end()  # a binary message ends the session, as on the ASGI path (no close frame)
            self._close_transport()
            return
        message = realtime.parse_message(payload)
        if isinstance(message, tuple):
            self._send_close(*message)
            return
        step = session.on_message(message)
        if step is not None:
            task = self._running = self.loop.create_task(self._step(session, step))
            tasks = self._state.tasks  # uvicorn's shutdown waits for it, as for the session's own task
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def _step(self, session: realtime.Session, step: Any) -> None:
        try:
            going = await session.guarded(step)
        except Exception as exc:
            going = False
            await self._failed(exc)
        self._running = None
        if not going or self.close_sent or self.disconnected:
            self._end()
            if self._close_timer is None:
                self._close_transport()
            return
        queued, self._queue = self._queue or [], None
        for index, (kind, payload) in enumerate(queued):
            self._message(kind, payload)
            if self._running is not None:  # another fresh hello: the rest waits for it
                self._queue = queued[index + 1 :] + (self._queue or [])
                return
        if self.read_paused and not self.close_sent:
            self.read_paused = False
            self.transport.resume_reading()

    def _gone(self) -> None:
        # The socket is closing: the session's reader learns it (before the hello), or the session ends.
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        if self._session is not None and self._running is None:
            self._end()

    def _end(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.end()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()
        pong, self._pong = self._pong, None
        if pong is not None:
            self._answer_ping(pong)

    def connection_lost(self, exc: Exception | None) -> None:
        self.disconnected = True
        self._state.connections.discard(self)
        if self.keepalive is not None:
            self.keepalive.drop(self)
            self.keepalive = None
        for timer in (self._close_timer, self._linger):
            if timer is not None:
                timer.cancel()
        self._close_timer = self._linger = None
        self.on_stall = None
        self.writable.set()  # a send waiting for the socket to drain learns it is gone
        self._gone()
        if self._session is not None:
            self._end()
