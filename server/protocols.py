"""The TCP edge: uvicorn's HTTP and WebSocket protocols with the deadlines and caps a public server needs.

Every way Sitecast is served (`make run`, the Procfile's `python -m server web`, the tests' servers) passes
`uvicorn_options(settings)`, so all of them get the same edge:

- **Request heads have a deadline** (slowloris): a connection whose request line and headers are not
  complete `HEADER_TIMEOUT_SECONDS` after it opened (or after the first byte of a keep-alive connection's
  next request) gets a 408 and is closed. uvicorn only times out idle keep-alive connections, and a
  partial head cancels that timer, so without this a socket trickling a head was never closed.
- **A WebSocket message is capped as a whole** at what the protocol needs (`MAX_CLIENT_MESSAGE_BYTES`):
  websockets counts every fragment of a message against it and closes with 1009 beyond it, so a client
  cannot make the server hold a large unfinished fragmented message.
- **A WebSocket socket's kernel send buffer is bounded** (`WS_SEND_BUFFER_BYTES`): the kernel then holds a
  few hundred KB for a client that stopped reading instead of up to 4 MiB, and the hub counts it with the
  rest of that client's backlog (`queued_bytes`: asyncio's buffer plus SIOCOUTQ, and the hub's outbox).
- **The handshake is parsed once**: uvicorn hands a WebSocket upgrade over by rebuilding the request's bytes
  from what httptools parsed, for websockets' Python parser to parse again (~55 us of a ~500 us connect).
  `HttpProtocol` builds websockets' `Request` from httptools' result instead, after the same checks that
  parser makes (`handshake_request`); a request any of them would refuse takes uvicorn's way, so it is
  refused exactly as before.
- **The events socket is served below ASGI**: an upgrade of `GET /api/v1/events/{slug}/ws` is handed over
  (server/realtime/upgrade.py) to rawws.py's protocol, which answers the handshake, parses frames and keeps
  no task per socket; every other upgrade, and all of them with permessage-deflate on, take uvicorn's
  protocol below.
- **A socket holds little**: uvicorn gives each one an `asyncio.Queue` for received messages and an
  `asyncio.Event` for flow control, four `deque`s (~3 KiB a socket, an eighth of a viewer's memory:
  bench/README.md); `Inbox` and `Flag` do the same jobs for one reader with a list and a future.
- **A client that stopped reading is found by its silence**: the server pings every `WS_PING_SECONDS` and a
  pong must come back within `WS_PONG_SECONDS`, else the hub evicts it (4008, "resume with your last id").
  A backlog alone cannot tell within seconds: the client's own kernel keeps acknowledging data for a
  while (its receive buffer), so a quiet event would take minutes to show a stopped reader.
- **An idle keep-alive connection outlives its client's pool** (`KEEP_ALIVE_SECONDS`): uvicorn's default
  closes it after 5 s, exactly when httpx's and Node's pools (5 s) may send the next request on it; that
  request then fails with a reset, and a POST is not retried (a CI run lost a poll answer's join this way).
  A server that keeps the connection longer than its clients do leaves the closing to them, race-free.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import socket
import struct
import termios
from collections.abc import Callable, Iterable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets import http11
from websockets.datastructures import Headers
from websockets.http11 import Request
from websockets.protocol import Protocol

from server.settings import Settings

# Client → server frames are `hello` and `ping`, a few dozen bytes; 4 KiB leaves room and holds per message.
MAX_CLIENT_MESSAGE_BYTES = 4096
# Linux doubles it: ~256 KiB in the kernel per socket (its default grows to 4 MiB), enough that a reader
# keeping up on average rides out a burst of large frames without its backlog moving into the outbox.
WS_SEND_BUFFER_BYTES = 128 * 1024
# A ping every 4 s and 5 s for its pong: a client that stops reading is evicted within 4 + 5 = 9 s
# (README promises 10 s), while a phone on a poor network (RTT of a second or two) keeps up easily.
WS_PING_SECONDS = 4.0
WS_PONG_SECONDS = 5.0
# Longer than the pools of the clients we serve (httpx, Node: 5 s; aiohttp: 15 s; browsers reuse and retry),
# and than nginx's upstream keepalive_timeout (60 s) in deploy/nginx.conf; as nginx's own for its clients (75 s).
KEEP_ALIVE_SECONDS = 75
# After an eviction's close frame, how long a client that still reads has to take it before the
# connection is dropped without waiting for it (a client that never reads would hold the socket forever).
EVICTED_LINGER_SECONDS = 30.0
CLOSE_TOO_SLOW = 4008


class Inbox:
    """What uvicorn uses of `asyncio.Queue` for a socket's received messages (`put_nowait`, `get`, `empty`,
    `qsize`), without its three deques and `Event`. Messages are never lost to a cancelled `get`."""

    __slots__ = ("_items", "_waiters")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiters: list[asyncio.Future[None]] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiters = self._waiters
        if waiters:
            self._waiters = None
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if self._waiters is not None and waiter in self._waiters:
                    self._waiters.remove(waiter)
                raise
        # Short: uvicorn stops reading the socket while a message waits here (`read_paused`).
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


class Flag:
    """What uvicorn uses of `asyncio.Event` for a socket's flow control (`set`, `clear`, `is_set`, `wait`),
    waiters kept only while someone waits. Starts set (writable)."""

    __slots__ = ("_value", "_waiters")

    def __init__(self) -> None:
        self._value = True
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        self._value = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
        return True


def handshake_request(method: str, url: bytes, headers: Iterable[tuple[bytes, bytes]]) -> Request | None:
    """websockets' `Request` for an upgrade httptools parsed (header names lower-cased, as uvicorn passes
    them on), or None when websockets' own parser would refuse what uvicorn rebuilds from it (method, path,
    a line or the header count over its limits, a header name or value it rejects, a body), or could."""
    if method != "GET" or not url.isascii() or len(url) > http11.MAX_LINE_LENGTH - 16:
        return None
    parsed = Headers()
    token, value_ok, longest = http11._token_re.fullmatch, http11._value_re.fullmatch, http11.MAX_LINE_LENGTH - 4
    for count, (name, raw) in enumerate(headers, 1):
        value = raw.strip(b" \t")
        if count > http11.MAX_NUM_HEADERS or len(name) + len(raw) > longest or not token(name) or not value_ok(value):
            return None
        parsed.set_insecure(name.decode("ascii"), value.decode("iso-8859-1"))
    if "transfer-encoding" in parsed or not set(parsed.get_all("content-length")) <= {"0"}:
        return None
    return Request(url.decode("ascii"), parsed)


def _kernel_queued(sock: Any) -> int:
    """Bytes the kernel still holds for the peer (unsent or unacknowledged): SIOCOUTQ, which is TIOCOUTQ."""
    try:
        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    except (OSError, ValueError, AttributeError):
        return 0
    return int(struct.unpack("i", raw)[0])


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, with the message cap, a bounded send buffer and eviction."""

    # Every attribute uvicorn's protocol and this one set, as slots: uvicorn's class has none, and its ~40
    # instance attributes are past what CPython shares between instances' dicts (30 keys), so each socket
    # had a dict of its own (~1.6 KiB); slots take 8 bytes each. The (then empty) `__dict__` remains.
    __slots__ = (
        "_linger", "app", "app_state", "asgi_version", "client", "close_sent", "close_timeout", "close_timer",
        "config", "conn", "connections", "curr_msg_data_type", "default_headers", "disconnected", "frames",
        "handshake_complete", "handshake_initiated", "initial_response", "keepalive", "last_ping_rtt", "logger",
        "loop", "on_stall", "pending_ping_payload", "ping_interval", "ping_sent_at", "ping_timeout", "ping_timer",
        "pong_sweep", "pong_timer", "queue", "read_paused", "request", "response", "root_path", "scheme", "scope",
        "server", "tasks", "transport", "writable",
    )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]  # see the module docstring: a lean asyncio.Queue
        self.writable = Flag()  # type: ignore[assignment]  # and a lean asyncio.Event, set
        # Whatever the command line said: a message, all its fragments together, never exceeds this.
        self.conn.max_message_size = MAX_CLIENT_MESSAGE_BYTES
        self.on_stall: Callable[[], None] | None = None  # set by the hub; else the protocol closes itself
        self._linger: asyncio.TimerHandle | None = None
        # Set when the hub's keepalive sweep adopts this socket (server/realtime/keepalive.py): it pings, and
        # uvicorn's per-socket ping timers stay off; `pong_sweep` is the latest sweep this client answered.
        self.keepalive: Any = None
        self.pong_sweep = 0

    def handshake(self, request: Request) -> None:
        """Take the upgrade `request` as if websockets' parser had just read it from the socket (see
        `HttpProtocol.handle_websocket_upgrade`): its frame parser comes next, as after a parsed request."""
        conn = self.conn
        conn.parser = Protocol.parse(conn)
        next(conn.parser)  # start the generator, as websockets does
        self.handle_connect(request)

    def start_keepalive(self) -> None:
        # Called once the 101 response is written: the handshake's parsed request and response (their
        # header maps, ~2 KiB a socket) are never read again (the ASGI scope keeps its own header list).
        # websockets' parser generator keeps the request object alive for the socket's life, so its
        # headers are emptied in place rather than only dropped here.
        super().start_keepalive()
        self.request.headers.clear()
        self.response.headers.clear()
        del self.request, self.response

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, WS_SEND_BUFFER_BYTES)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.keepalive is not None:
            self.keepalive.drop(self)
            self.keepalive = None
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        self.on_stall = None
        super().connection_lost(exc)

    def queued_bytes(self) -> int:
        """What this connection has sent that the client has not taken yet: asyncio's buffer plus the kernel's."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return 0
        return int(transport.get_write_buffer_size()) + _kernel_queued(transport.get_extra_info("socket"))

    def schedule_ping(self) -> None:
        if self.keepalive is None:  # adopted: the sweep pings
            super().schedule_ping()

    def handle_pong(self, event: Any) -> None:
        if self.keepalive is not None:
            self.keepalive.pong(self, bytes(event.data))
        else:
            super().handle_pong(event)

    def keepalive_timeout(self) -> None:
        # No pong in time: the client stopped reading (or reads slower than the event moves on).
        self.pong_timer = None
        self.pending_ping_payload = None
        if self.close_sent or self.transport.is_closing():
            return
        if self.on_stall is not None:
            self.on_stall()
        else:
            self.close_now(CLOSE_TOO_SLOW, "too slow; resume with your last id")

    def close_now(self, code: int, reason: str) -> None:
        """Send a close frame now, even when the socket is backed up (ASGI's close would wait for it to drain)."""
        if self.close_sent or self.disconnected or self.transport.is_closing():
            return
        self.stop_keepalive()
        if self.keepalive is not None:
            self.keepalive.drop(self)
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        # uvicorn's closing handshake: `transport.close` after `close_timeout`, which still flushes what is
        # buffered (so a slow client that reads on gets the 4008); a client that never reads is dropped later.
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)
        self._linger = self.loop.call_later(EVICTED_LINGER_SECONDS, self.transport.abort)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline for each request's head (class attribute, see `configured`)."""

    header_timeout_seconds: float = Settings.header_timeout_seconds

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    @classmethod
    def configured(cls, settings: Settings) -> type[HttpProtocol]:
        return type("HttpProtocol", (cls,), {"header_timeout_seconds": settings.header_timeout_seconds})

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()  # the next request on a keep-alive connection: its head gets the same deadline

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def handle_websocket_upgrade(self) -> None:
        # uvicorn's upgrade, without websockets parsing the request again (see the module docstring).
        request = handshake_request(self.scope["method"], self.url, self.scope["headers"])
        ws_class: Any = self.ws_protocol_class
        if request is None or not hasattr(ws_class, "handshake"):
            super().handle_websocket_upgrade()
            return
        from server.realtime.upgrade import take_over  # the events socket, served below ASGI (imports the app's API)

        if take_over(self, request):
            return
        self.connections.discard(self)
        protocol = ws_class(config=self.config, server_state=self.server_state, app_state=self.app_state)
        protocol.connection_made(self.transport)
        protocol.handshake(request)
        self.transport.set_protocol(protocol)

    def _arm(self) -> None:
        # Armed once per head: a client that trickles a byte now and then does not push the deadline back.
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout_seconds, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: 16\r\nconnection: close\r\n\r\nRequest Timeout\n"
        )
        self.transport.close()
        # A client that does not read either must not keep the socket: drop it soon after.
        self.loop.call_later(1.0, self.transport.abort)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn settings every entry point serves with (cli.py, the Procfile, the tests' servers)."""
    from server.media.rawhttp import LiveHttpProtocol  # this HttpProtocol, answering live HLS GETs itself

    return {
        "http": LiveHttpProtocol.configured(settings),
        "ws": WebSocketProtocol,
        "ws_max_size": MAX_CLIENT_MESSAGE_BYTES,
        "ws_ping_interval": WS_PING_SECONDS,
        "ws_ping_timeout": WS_PONG_SECONDS,
        # Frames are small JSON; per-socket zlib doubles fan-out CPU and memory (bench/README.md).
        "ws_per_message_deflate": False,
        "proxy_headers": False,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
    }
