"""Live HLS answered under ASGI: the viewers' GETs straight from the HTTP protocol, media by `sendfile`.

`LiveHttpProtocol` is server/protocols.py's uvicorn protocol with one addition. When a request's head is
complete and it is a GET or HEAD of a live playlist, part or segment that the feed's live edge can
answer (fastpath.py's `decide`), the answer is written from here: head lines built once per kind, the
playlist's shared bytes, and parts and segments `sendfile`d from their memfd (live.py), so their bytes
cost no Python copy and no kernel copy on the way in, whatever the number of viewers. No task, no ASGI
messages, no Request or Response objects. Blocking reloads and hinted parts park on the edge's one
future per (media sequence, part) with a callback and a timer, no task either.

Everything else — other paths, requests with Range or conditional headers, anything `decide` leaves to
the app, a request arriving while another of the same connection is in flight (pipelining keeps its
order through uvicorn's queue) — goes the usual way: uvicorn, `LiveFastPath`, the router.

A socket that cannot take a whole body at once (a slow viewer) is resumed when it is writable again:
the transport's own descriptor may not be watched twice on the loop, so every such socket waits in one
epoll of our own, whose descriptor the loop watches while anyone waits (`_Writable`).

uvicorn internals relied on (HttpToolsProtocol, uvicorn 0.54; tests/media/test_rawhttp.py runs them):
`parser`, `url`, `headers`, `cycle` (read by its hooks: `response_complete`, `more_body`, `body`,
`message_event`, `disconnected`, `keep_alive`), `pipeline`, `server_state.default_headers`,
`on_response_complete()`; and server/protocols.py's `_disarm()` (the request head's deadline).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import select
import socket
import weakref
from typing import TYPE_CHECKING, Any

from server.protocols import HttpProtocol

from .fastpath import MEDIA, PATH, Answer, LiveFastPath, Wait, decide, edge_for, settle
from .live import DiskFile
from .rendition import LOW_DIRECTORY

if TYPE_CHECKING:
    from .live import LiveEdge, MediaFile
    from .service import MediaService

_PATH = re.compile(PATH.pattern.encode())
# Headers that ask for something other than the whole body: the app's FileResponse handles them.
_PASS_ON = frozenset((b"range", b"if-range", b"if-none-match", b"if-modified-since"))
# A whole segment of the feed directory: players that fell behind the in-memory window ask for these.
_SEGMENT = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9_-]{0,31}/)?\d{6}\.ts$")
# Bodies below this are written with their head in one go (playlists, errors); above, sent from the memfd.
SENDFILE_MIN_BYTES = 16 * 1024
_STATUS = {
    200: b"HTTP/1.1 200 OK\r\n",
    404: b"HTTP/1.1 404 Not Found\r\n",
    503: b"HTTP/1.1 503 Service Unavailable\r\n",
}
_CLOSE = b"connection: close\r\n"


class _NoEvent:
    """uvicorn's hooks `set()` the cycle's event; nothing of ours waits on it."""

    __slots__ = ()

    def set(self) -> None:
        return None


_NO_EVENT = _NoEvent()


class _Reply:
    """One live request of a connection. It is put in `protocol.cycle`, where uvicorn's hooks read it and
    where uvicorn sees that the next request must queue behind it (it then puts that one's cycle there)."""

    __slots__ = (
        "body",
        "disconnected",
        "edge",
        "file",
        "future",
        "head_only",
        "keep_alive",
        "more_body",
        "name",
        "offset",
        "response_complete",
        "timer",
        "wait",
    )
    message_event = _NO_EVENT

    def __init__(self, keep_alive: bool, head_only: bool) -> None:
        self.response_complete = False
        self.disconnected = False
        self.keep_alive = keep_alive
        self.head_only = head_only
        self.more_body = True
        self.body = bytearray()
        self.edge: LiveEdge | None = None
        self.name = ""
        self.wait: Wait | None = None
        self.future: asyncio.Future[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.file: MediaFile | DiskFile | None = None
        self.offset = 0


class _Writable:
    """Sockets waiting to take more of a `sendfile`, in one epoll the loop watches while any waits."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.epoll = select.epoll()
        self.waiting: dict[int, LiveHttpProtocol] = {}

    def wait(self, fd: int, protocol: LiveHttpProtocol) -> None:
        events = select.EPOLLOUT | select.EPOLLONESHOT
        try:
            self.epoll.register(fd, events)
        except FileExistsError:
            self.epoll.modify(fd, events)  # registered before, disarmed by ONESHOT
        if not self.waiting:
            self.loop.add_reader(self.epoll.fileno(), self._ready)
        self.waiting[fd] = protocol

    def cancel(self, fd: int, protocol: LiveHttpProtocol) -> None:
        if self.waiting.get(fd) is protocol:
            del self.waiting[fd]
            with contextlib.suppress(OSError):  # already closed: the kernel dropped it
                self.epoll.unregister(fd)
            if not self.waiting:
                self.loop.remove_reader(self.epoll.fileno())

    def _ready(self) -> None:
        for fd, _ in self.epoll.poll(0):
            protocol = self.waiting.pop(fd, None)
            if protocol is not None:
                protocol._send_more()
        if not self.waiting:
            self.loop.remove_reader(self.epoll.fileno())


_writables: dict[int, _Writable] = {}
_services: weakref.WeakKeyDictionary[Any, MediaService] = weakref.WeakKeyDictionary()


def _writable(loop: asyncio.AbstractEventLoop) -> _Writable:
    writable = _writables.get(id(loop))
    if writable is None or writable.loop is not loop:
        if writable is not None:
            writable.epoll.close()
        writable = _writables[id(loop)] = _Writable(loop)
    return writable


def find_service(app: Any) -> MediaService | None:
    """The MediaService of the `LiveFastPath` in the served app (the app's middleware, or the app itself)."""
    try:
        return _services[app]
    except (KeyError, TypeError):
        pass
    node = app
    for _ in range(8):
        if isinstance(node, LiveFastPath):
            with contextlib.suppress(TypeError):  # not weakly referable: found again next time
                _services[app] = node.service
            return node.service
        node = getattr(node, "middleware_stack", None) or getattr(node, "app", None)
        if node is None:
            break
    return None


class LiveHttpProtocol(HttpProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        self._sock = sock
        self._fd: int = sock.fileno() if sock is not None else -1
        self._default_headers: list[tuple[bytes, bytes]] | None = None
        self._default_raw = b""
        self._reply: _Reply | None = None  # the live request being answered (not always `cycle`: see _Reply)

    def connection_lost(self, exc: Exception | None) -> None:
        reply = self._reply
        if reply is not None and not reply.response_complete:
            reply.disconnected = True
            self._unpark(reply)
            if reply.file is not None:
                reply.file = None
                _writable(self.loop).cancel(self._fd, self)
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        if not self._answer_live():
            super().on_headers_complete()

    # -- the live answer -------------------------------------------------------------------------

    def _answer_live(self) -> bool:
        cycle = self.cycle
        if (cycle is not None and not cycle.response_complete) or self.pipeline or self._reply is not None:
            return False
        url: bytes = self.url
        if not url.startswith(b"/live/"):
            return False
        method = self.parser.get_method()
        if method != b"GET" and method != b"HEAD":
            return False
        path, _, query = url.partition(b"?")
        match = _PATH.match(path)
        if match is None or self.parser.should_upgrade():
            return False
        for header, _value in self.headers:
            if header in _PASS_ON:
                return False
        service = find_service(self.app)
        if service is None:
            return False
        low = match.group(3) is not None
        edge = edge_for(service, match.group(1).decode(), match.group(2) is not None, low)
        if edge is None:
            return False
        name = match.group(4).decode()
        answer = decide(service, edge, name, query)
        if answer is None and not query and _SEGMENT.match(name):
            # Older than the live window: from the disk, by sendfile too, rather than through the thread
            # pool (a player that fell behind would otherwise cost several times more per byte, and fall
            # further behind).
            directory = service.feed_dir(match.group(1).decode(), "screen" if match.group(2) is not None else "camera")
            if low:
                directory = directory / LOW_DIRECTORY
            disk = DiskFile.open(directory / name)
            if disk is not None:
                answer = Answer(200, MEDIA["ts"], b"", disk)
        if answer is None:
            return False
        self._disarm()  # server/protocols.py: the head arrived in time
        keep_alive = self.parser.should_keep_alive() and self.parser.get_http_version() != "1.0"
        reply = self._reply = _Reply(keep_alive, method == b"HEAD")
        self.cycle = reply  # type: ignore[assignment]
        if isinstance(answer, Wait):
            self._park(reply, edge, name, answer)
        else:
            self._send(reply, answer)
        return True

    def _park(self, reply: _Reply, edge: LiveEdge, name: str, wait: Wait) -> None:
        reply.edge, reply.name, reply.wait = edge, name, wait
        reply.future = edge.future(wait.sequence, wait.part)
        reply.timer = self.loop.call_later(wait.seconds, self._settle)
        reply.future.add_done_callback(self._settle)

    def _unpark(self, reply: _Reply) -> None:
        if reply.timer is not None:
            reply.timer.cancel()
            reply.timer = None
        if reply.future is not None:
            reply.future.remove_done_callback(self._settle)
            reply.future = None

    def _settle(self, _future: object = None) -> None:
        reply = self._reply
        if reply is None or reply.wait is None or reply.response_complete or reply.disconnected:
            return
        self._unpark(reply)
        assert reply.edge is not None
        wait, reply.wait = reply.wait, None
        self._send(reply, settle(reply.edge, reply.name, wait))

    def _head(self, reply: _Reply, answer: Answer) -> bytes:
        defaults = self.server_state.default_headers  # Date (renewed every second) and Server
        if defaults is not self._default_headers:
            self._default_headers = defaults
            self._default_raw = b"".join(name + b": " + value + b"\r\n" for name, value in defaults)
        length = b"content-length: %d\r\n" % (answer.file.size if answer.file is not None else len(answer.body))
        close = b"" if reply.keep_alive else _CLOSE
        return b"".join((_STATUS[answer.status], self._default_raw, answer.kind.raw, length, close, b"\r\n"))

    def _send(self, reply: _Reply, answer: Answer) -> None:
        transport = self.transport
        if transport.is_closing():
            self._done(reply)
            return
        head = self._head(reply, answer)
        file = answer.file
        if reply.head_only:
            transport.write(head)
            self._done(reply)
            return
        if file is None or file.fd < 0 or self._fd < 0 or file.size < SENDFILE_MIN_BYTES:
            body = answer.body if file is None else file.data
            if len(body) < SENDFILE_MIN_BYTES:
                transport.write(head + body)
            else:
                transport.write(head)
                transport.write(body)
            self._done(reply)
            return
        if transport.get_write_buffer_size():
            # The transport still holds bytes for this socket: ours must follow them, through it.
            transport.write(head)
            transport.write(file.data)
            self._done(reply)
            return
        try:
            # Corked: the head goes out in the body's first packet, not one of its own (on loopback a
            # packet of its own cost about a quarter of what sending the whole segment did).
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            written = os.write(self._fd, head)
        except BlockingIOError:
            written = 0
        except OSError:
            transport.abort()
            return
        if written < len(head):
            self._uncork()
            transport.write(head[written:])
            transport.write(file.data)
            self._done(reply)
            return
        reply.file, reply.offset = file, 0
        self._send_more()

    def _send_more(self) -> None:
        """`sendfile` what the socket takes; the rest when it is writable again."""
        reply = self._reply
        if reply is None or reply.file is None or reply.disconnected:
            return
        file = reply.file
        while reply.offset < file.size:
            try:
                sent = os.sendfile(self._fd, file.fd, reply.offset, file.size - reply.offset)
            except BlockingIOError:
                _writable(self.loop).wait(self._fd, self)
                return
            except OSError:
                reply.file = None
                self.transport.abort()
                return
            if sent == 0:
                reply.file = None
                self.transport.abort()
                return
            reply.offset += sent
        reply.file = None
        self._uncork()
        self._done(reply)

    def _uncork(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)

    def _done(self, reply: _Reply) -> None:
        reply.response_complete = True
        self._reply = None
        if not reply.keep_alive:
            self.transport.close()
        self.on_response_complete()
