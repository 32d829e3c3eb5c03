"""Client → server WebSocket frames (RFC 6455 5.2), parsed from a socket's bytes without a generator.

A viewer sends a hello, a ping now and then, and pongs to the server's pings; websockets' parser is a
generator per socket with a bound `read_exact` per frame, cyclic garbage the collector sweeps with every
other socket's many small objects (bench/README.md, issue 18). This parser is a buffer and a few ints: it
makes no cycles and keeps nothing between frames but the unfinished fragments of a text message.

The checks are websockets' (same close codes, same reasons): client frames masked, reserved bits 0,
known opcodes, control frames short and unfragmented, continuation only inside a message, a whole message
at most `max_message` bytes (1009, checked from the frame header, before the payload is read), a close
frame's code valid; and uvicorn's, a text message valid UTF-8 (1007).
"""

from __future__ import annotations

from typing import Any

from websockets.exceptions import PayloadTooBig

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA
CONTINUATION = 0x0
_KNOWN = frozenset((CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG))
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_INVALID_DATA = 1007
CLOSE_TOO_BIG = 1009
# Close codes a peer may send (RFC 6455 7.4, websockets' `EXTERNAL_CLOSE_CODES` and 3000-4999).
_VALID_CLOSE = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014))


class Failure(Exception):
    """The client broke the protocol: close with `code` and `reason`, read no further."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


def unmask(payload: bytes, mask: bytes) -> bytes:
    n = len(payload)
    if not n:
        return b""
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


class ClientFrames:
    """Feed it bytes; it returns the complete messages and control frames they finish, in order:
    (TEXT, str), (BINARY, bytes), (PING | PONG | CLOSE, payload). Raises `Failure` on a protocol error."""

    __slots__ = ("_buffer", "_fragments", "_kind", "_size", "max_message")

    def __init__(self, max_message: int) -> None:
        self.max_message = max_message
        self._buffer = b""
        self._fragments: list[bytes] | None = None  # an unfinished fragmented message
        self._kind = 0
        self._size = 0

    def feed(self, data: bytes) -> list[tuple[int, Any]]:
        buf = self._buffer + data if self._buffer else data
        out: list[tuple[int, Any]] = []
        at = 0
        end = len(buf)
        while end - at >= 2:
            # websockets' order of checks (Frame.parse, Frame.check, Protocol.recv_frame): the same input gets
            # the same close code and reason on either path.
            b0, b1 = buf[at], buf[at + 1]
            opcode = b0 & 0x0F
            n = b1 & 0x7F
            head = at + 2
            if opcode not in _KNOWN:
                raise Failure(CLOSE_PROTOCOL_ERROR, "invalid opcode")
            if not b1 & 0x80:
                raise Failure(CLOSE_PROTOCOL_ERROR, "incorrect masking")
            if n == 126:
                if end - at < 4:
                    break
                n = int.from_bytes(buf[at + 2 : at + 4], "big")
                head = at + 4
            elif n == 127:
                if end - at < 10:
                    break
                n = int.from_bytes(buf[at + 2 : at + 10], "big")
                head = at + 10
            # The cap counts the whole message: every fragment so far plus this frame, from its header alone.
            so_far = self._size if self._fragments is not None else None
            if n > self.max_message - (so_far or 0):
                too_big = PayloadTooBig(n, self.max_message - (so_far or 0))
                too_big.set_current_size(so_far)
                raise Failure(CLOSE_TOO_BIG, str(too_big))
            if end - head < 4 + n:
                break
            if b0 & 0x70:
                raise Failure(CLOSE_PROTOCOL_ERROR, "reserved bits must be 0")
            fin = b0 & 0x80
            if opcode >= CLOSE:
                if n > 125:
                    raise Failure(CLOSE_PROTOCOL_ERROR, "control frame too long")
                if not fin:
                    raise Failure(CLOSE_PROTOCOL_ERROR, "fragmented control frame")
            mask = buf[head : head + 4]
            payload = unmask(buf[head + 4 : head + 4 + n], mask)
            at = head + 4 + n
            if opcode >= CLOSE:
                if opcode == CLOSE:
                    _check_close(payload)
                out.append((opcode, payload))
                if opcode == CLOSE:
                    at = end  # nothing after a close frame is read
                    break
                continue
            if opcode == CONTINUATION:
                if self._fragments is None:
                    raise Failure(CLOSE_PROTOCOL_ERROR, "unexpected continuation frame")
                self._fragments.append(payload)
                self._size += n
                if not fin:
                    continue
                payload, kind = b"".join(self._fragments), self._kind
                self._fragments, self._size = None, 0
            else:
                if self._fragments is not None:
                    raise Failure(CLOSE_PROTOCOL_ERROR, "expected a continuation frame")
                if not fin:
                    self._fragments, self._kind, self._size = [payload], opcode, n
                    continue
                kind = opcode
            if kind == TEXT:
                out.append((TEXT, _text(payload)))
            else:
                out.append((BINARY, payload))
        self._buffer = buf[at:] if at < end else b""
        return out


def _text(payload: bytes) -> str:
    try:
        return payload.decode()
    except UnicodeDecodeError:
        raise Failure(CLOSE_INVALID_DATA, "") from None  # as uvicorn closes on a text message that is not UTF-8


def _check_close(payload: bytes) -> None:
    if len(payload) == 1:
        raise Failure(CLOSE_PROTOCOL_ERROR, "close frame too short")
    if len(payload) >= 2:
        code = int.from_bytes(payload[:2], "big")
        if not (code in _VALID_CLOSE or 3000 <= code < 5000):
            raise Failure(CLOSE_PROTOCOL_ERROR, "invalid status code")
        try:
            payload[2:].decode()
        except UnicodeDecodeError as exc:
            raise Failure(CLOSE_INVALID_DATA, f"{exc.reason} at position {exc.start}") from None
