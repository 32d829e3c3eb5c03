"""One viewer's outgoing RTP stream of one kind: the frames the feed packetised once, sent to this viewer.

Per packet only what differs per viewer is done here: a 12-byte header (sequence number,
timestamp with this stream's random origin, marker, SSRC) and the negotiated header
extensions (mid, abs-send-time) in front of the shared payload, SRTP with this viewer's
keys, one `sendto`. aiortc's RTCRtpSender still owns everything else (RTCP: sender reports
from what we tell it we sent, receiver reports, NACK → our `retransmit`, PLI/FIR → the feed's
keyframe request, BYE).
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiortc import RTCRtpSender
from aiortc.sdp import SessionDescription

from . import aiortc_hooks
from .ntp import NtpClock, abs_send_time

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
# Sent packets kept for NACK, as aiortc does (RTP_HISTORY_SIZE): ≈ 0.4 s of 2.5 Mb/s video.
HISTORY_PACKETS = 128
# A viewer whose socket has this much queued in user space (the kernel buffer is full) is
# behind: it skips to the next keyframe instead of growing memory or delaying the others.
MAX_QUEUED_BYTES = 256 * 1024

_HEADER = struct.Struct("!BBHLL")
_HEADER_START = struct.Struct("!BBH")  # first byte, marker + payload type, sequence number
_SEQUENCE = struct.Struct("!H")


@dataclass(frozen=True, slots=True)
class OutgoingFrame:
    """One frame as RTP payloads, shared by every viewer."""

    payloads: Sequence[bytes]
    timestamp: int  # media clock units on the feed's timeline, before a stream's random origin
    keyframe: bool
    ntp: int  # the feed's timeline instant of this frame as NTP time (for sender reports)
    octets: int


@dataclass(frozen=True)
class SendParameters:
    """What the answer negotiated for one sending media section."""

    ssrc: int
    payload_type: int
    clock_rate: int
    mid: str | None = None
    mid_id: int | None = None
    abs_send_time_id: int | None = None
    rtx_ssrc: int | None = None
    rtx_payload_type: int | None = None

    @classmethod
    def from_answer(cls, answer_sdp: str, kind: str) -> SendParameters:
        media = next(m for m in SessionDescription.parse(answer_sdp).media if m.kind == kind)
        codec = media.rtp.codecs[0]  # what aiortc sends with
        if codec.payloadType is None:
            raise ValueError(f"answer has no payload type for {kind}")
        rtx = next(
            (c for c in media.rtp.codecs if c.name == "rtx" and c.parameters.get("apt") == codec.payloadType), None
        )
        fid = next((g.items for g in media.ssrc_group if g.semantic == "FID"), None)
        ids = {ext.uri: ext.id for ext in media.rtp.headerExtensions}
        return cls(
            ssrc=media.ssrc[0].ssrc,
            payload_type=codec.payloadType,
            clock_rate=codec.clockRate,
            mid=media.rtp.muxId,
            mid_id=ids.get(MID_URI),
            abs_send_time_id=ids.get(ABS_SEND_TIME_URI),
            rtx_ssrc=int(fid[1]) if rtx is not None and fid else None,
            rtx_payload_type=rtx.payloadType if rtx is not None and fid else None,
        )


class RtpStream:
    def __init__(
        self,
        sender: RTCRtpSender,
        params: SendParameters,
        clock: NtpClock,
        on_picture_loss: Callable[[], None] | None = None,
    ) -> None:
        self.kind = sender.kind
        self.dropped = 0
        self._sender = sender
        self._params = params
        self._clock = clock
        self._sequence = secrets.randbits(15)  # lower half: no SRTP rollover early on (as aiortc)
        self._rtx_sequence = secrets.randbits(15)
        self._origin = secrets.randbits(32)
        self._waiting_for_keyframe = self.kind == "video"
        self._history: list[bytes | None] = [None] * HISTORY_PACKETS
        self._packets = 0
        self._octets = 0
        self._extensions = _Extensions(params)
        aiortc_hooks.take_over_retransmission(sender, self.retransmit)
        if on_picture_loss is not None:
            aiortc_hooks.take_over_keyframe_requests(sender, on_picture_loss)

    def send(self, frame: OutgoingFrame) -> None:
        """Send one frame now (on the event loop). Video starts, and restarts when behind, at a keyframe."""
        if self._waiting_for_keyframe and not frame.keyframe:
            return
        wire = aiortc_hooks.rtp_wire(self._sender)
        if wire is None:  # not connected (yet, or any more)
            return
        if wire.queued() > MAX_QUEUED_BYTES:
            self.dropped += 1
            self._waiting_for_keyframe = self.kind == "video"
            return
        self._waiting_for_keyframe = False
        params, history = self._params, self._history
        protect, sendto, address = wire.protect, wire.sendto, wire.address
        timestamp = (self._origin + frame.timestamp) & 0xFFFFFFFF
        rest = struct.pack("!LL", timestamp, params.ssrc) + self._extensions.build(self._clock.now())
        first = 0x90 if rest[8:] else 0x80  # version 2, extension bit when there are any
        sequence = self._sequence
        last = len(frame.payloads) - 1
        for i, payload in enumerate(frame.payloads):
            marker = 0x80 if i == last else 0
            packet = _HEADER_START.pack(first, marker | params.payload_type, sequence) + rest + payload
            history[sequence % HISTORY_PACKETS] = packet
            sendto(protect(packet), address)
            sequence = (sequence + 1) & 0xFFFF
        self._sequence = sequence
        self._packets += last + 1
        self._octets += frame.octets
        aiortc_hooks.report_sent(self._sender, frame.ntp, timestamp, self._packets, self._octets)

    async def retransmit(self, sequence_number: int) -> None:
        """NACK from the viewer: resend from the history, as RTX when negotiated (aiortc's behaviour)."""
        packet = self._history[sequence_number % HISTORY_PACKETS]
        if packet is None or _SEQUENCE.unpack_from(packet, 2)[0] != sequence_number:
            return
        wire = aiortc_hooks.rtp_wire(self._sender)
        if wire is None:
            return
        params = self._params
        if params.rtx_payload_type is not None and params.rtx_ssrc is not None:
            cut = 12 + len(self._extensions)
            header = _HEADER.pack(
                packet[0],
                (packet[1] & 0x80) | params.rtx_payload_type,
                self._rtx_sequence,
                *struct.unpack_from("!L", packet, 4),
                params.rtx_ssrc,
            )
            packet = header + packet[12:cut] + packet[2:4] + packet[cut:]  # RFC 4588: original seq first
            self._rtx_sequence = (self._rtx_sequence + 1) & 0xFFFF
        wire.sendto(wire.protect(packet), wire.address)


class _Extensions:
    """The header extension block (RFC 8285) the answer negotiated, as aiortc writes it:
    mid, then abs-send-time; one-byte form (two-byte when an id or the mid does not fit)."""

    def __init__(self, params: SendParameters) -> None:
        elements: list[tuple[int, bytes]] = []
        if params.mid_id and params.mid is not None:
            elements.append((params.mid_id, params.mid.encode()))
        if params.abs_send_time_id:
            elements.append((params.abs_send_time_id, b"\x00\x00\x00"))  # filled in per frame
        one_byte = all(0 < i <= 14 and 0 < len(v) <= 16 for i, v in elements)
        body = b"".join((bytes([i << 4 | len(v) - 1]) if one_byte else bytes([i, len(v)])) + v for i, v in elements)
        body += b"\x00" * (-len(body) % 4)
        block = struct.pack("!HH", 0xBEDE if one_byte else 0x1000, len(body) // 4) + body if elements else b""
        self._length = len(block)
        self._abs_send_time = bool(params.abs_send_time_id)
        # abs-send-time is the last element: its 3 bytes sit right before the padding.
        at = 4 + sum((1 if one_byte else 2) + len(v) for _, v in elements) - 3
        self._before, self._after = (block[:at], block[at + 3 :]) if self._abs_send_time else (block, b"")

    def __len__(self) -> int:
        return self._length

    def build(self, ntp: int) -> bytes:
        if not self._abs_send_time:
            return self._before
        return self._before + abs_send_time(ntp).to_bytes(3, "big") + self._after
