"""A WebSocket client cheap enough to run hundreds of in one test process, and able to misbehave.

It parses only frame headers (payloads are skipped unless asked for), answers pings, records the close
code, and can stop reading or send raw frames (e.g. an unfinished fragmented message) on demand.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from collections.abc import Callable
from typing import Any

from tests.support import wait_for

ZERO_MASK = b"\0\0\0\0"  # a valid mask that leaves the payload as it is


def client_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A masked client frame (RFC 6455 5.2)."""
    head = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", head, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", head, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", head, 0x80 | 127, n)
    return header + ZERO_MASK + payload


class RawViewer(asyncio.Protocol):
    def __init__(self, on_text: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.on_text = on_text
        self.transport: asyncio.Transport | None = None
        self.upgraded = asyncio.Event()
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.status: bytes = b""
        self.texts = 0
        self._buffer = bytearray()
        self._lost = asyncio.Event()

    @classmethod
    async def connect(
        cls, host: str, port: int, path: str, on_text: Callable[[dict[str, Any]], None] | None = None
    ) -> RawViewer:
        loop = asyncio.get_running_loop()
        _, viewer = await loop.create_connection(lambda: cls(on_text), host, port)
        assert viewer.transport is not None
        key = base64.b64encode(os.urandom(16)).decode()
        viewer.transport.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await asyncio.wait_for(viewer.upgraded.wait(), 20)
        assert viewer.status.startswith(b"HTTP/1.1 101"), viewer.status
        return viewer

    def hello(self) -> None:
        self.send_text(json.dumps({"type": "hello", "last_id": None}))

    def send_text(self, text: str) -> None:
        assert self.transport is not None
        self.transport.write(client_frame(0x1, text.encode()))

    def send_raw(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def stop_reading(self) -> None:
        assert self.transport is not None
        self.transport.pause_reading()

    def resume_reading(self) -> None:
        assert self.transport is not None
        self.transport.resume_reading()

    async def wait_closed(self, timeout: float = 20) -> int | None:
        await wait_for(lambda: self.closed.is_set() or self._lost.is_set(), timeout, message="socket closed")
        return self.close_code

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # asyncio.Protocol ------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost.set()
        self.upgraded.set()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self.upgraded.is_set():
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self.status = bytes(self._buffer[: end + 4])
            del self._buffer[: end + 4]
            self.upgraded.set()
        self._frames()

    def _frames(self) -> None:
        buf = self._buffer
        at = 0
        while len(buf) - at >= 2:
            opcode = buf[at] & 0x0F
            n = buf[at + 1] & 0x7F
            start = at + 2
            if n == 126:
                if len(buf) - at < 4:
                    break
                n = struct.unpack_from("!H", buf, at + 2)[0]
                start = at + 4
            elif n == 127:
                if len(buf) - at < 10:
                    break
                n = struct.unpack_from("!Q", buf, at + 2)[0]
                start = at + 10
            if len(buf) - start < n:
                break
            payload = buf[start : start + n]
            at = start + n
            if opcode == 0x1:
                self.texts += 1
                if self.on_text is not None:
                    self.on_text(json.loads(bytes(payload)))
            elif opcode == 0x9 and self.transport is not None and not self.transport.is_closing():
                self.transport.write(client_frame(0xA, bytes(payload)))
            elif opcode == 0x8:
                self.close_code = struct.unpack_from("!H", payload)[0] if n >= 2 else 1005
                self.closed.set()
                if self.transport is not None:
                    self.transport.close()
                break
        del buf[:at]
