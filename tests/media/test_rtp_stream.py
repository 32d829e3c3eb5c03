"""The RTP a viewer's stream writes, read back with aiortc's own parser."""

from __future__ import annotations

from typing import Any

import pytest
from aiortc import RTCPeerConnection
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from server.media import aiortc_hooks, rtp_stream
from server.media.ntp import NtpClock, abs_send_time
from server.media.rtp_stream import OutgoingFrame, RtpStream, SendParameters

pytestmark = pytest.mark.media

VIDEO = SendParameters(
    ssrc=1111, payload_type=102, clock_rate=90_000, mid="0", mid_id=1, abs_send_time_id=3, rtx_ssrc=2222,
    rtx_payload_type=103,
)  # fmt: skip


class Wire:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.queued_bytes = 0

    def wire(self) -> aiortc_hooks.RtpWire:
        return aiortc_hooks.RtpWire(lambda p: p, lambda p, a: self.sent.append(p), ("127.0.0.1", 9), self.queue)

    def queue(self) -> int:
        return self.queued_bytes


@pytest.fixture
async def stream(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A stream on a real (unconnected) aiortc sender, its wire replaced by a list (no SRTP)."""
    wire = Wire()
    reports: list[tuple[int, int, int, int]] = []
    monkeypatch.setattr(rtp_stream.aiortc_hooks, "rtp_wire", lambda sender: wire.wire())
    monkeypatch.setattr(rtp_stream.aiortc_hooks, "report_sent", lambda sender, *report: reports.append(report))
    pc = RTCPeerConnection()
    sender = pc.addTransceiver("video", direction="sendonly").sender
    yield lambda params=VIDEO: (RtpStream(sender, params, NtpClock()), wire, reports)
    await pc.close()


def parse(data: bytes, params: SendParameters) -> RtpPacket:
    extensions = HeaderExtensionsMap()
    extensions.configure(
        RTCRtpParameters(
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(id=params.mid_id, uri=rtp_stream.MID_URI),
                RTCRtpHeaderExtensionParameters(id=params.abs_send_time_id, uri=rtp_stream.ABS_SEND_TIME_URI),
            ]
        )
    )
    return RtpPacket.parse(data, extensions)


async def test_a_frame_is_one_rtp_packet_per_payload(stream: Any) -> None:
    s, wire, reports = stream()
    s.send(OutgoingFrame([b"P0", b"P1", b"P2"], 3000, False, 0, 6))  # video waits for a keyframe
    assert wire.sent == []
    before = NtpClock().now()
    s.send(OutgoingFrame([b"K0", b"K1", b"K2"], 6000, True, 1 << 32, 6))
    s.send(OutgoingFrame([b"N0"], 9000, False, 2 << 32, 2))
    packets = [parse(p, VIDEO) for p in wire.sent]
    assert [p.payload for p in packets] == [b"K0", b"K1", b"K2", b"N0"]
    assert [p.marker for p in packets] == [0, 0, 1, 1]  # the last packet of each frame
    first = packets[0].sequence_number
    assert [p.sequence_number for p in packets] == [first, first + 1, first + 2, first + 3]
    assert packets[3].timestamp - packets[0].timestamp == 3000
    assert {(p.ssrc, p.payload_type, p.extensions.mid) for p in packets} == {(1111, 102, "0")}
    assert (packets[0].extensions.abs_send_time - abs_send_time(before)) % 2**24 < 2**18 // 50  # < 20 ms later
    # What the next sender report says: the last frame's NTP and RTP time, the totals.
    assert reports[-1] == (2 << 32, packets[3].timestamp, 4, 8)


async def test_long_mids_use_the_two_byte_header_form(stream: Any) -> None:
    params = SendParameters(ssrc=5, payload_type=111, clock_rate=48_000, mid="a-mid-longer-than-16", mid_id=15,
                            abs_send_time_id=3)  # fmt: skip
    s, wire, _ = stream(params)
    s.send(OutgoingFrame([b"opus"], 960, True, 0, 4))
    (packet,) = wire.sent
    assert packet[12:14] == b"\x10\x00"  # RFC 8285 two-byte profile
    parsed = parse(packet, params)
    assert (parsed.extensions.mid, parsed.payload) == ("a-mid-longer-than-16", b"opus")


async def test_nack_resends_as_rtx_with_the_original_sequence_number(stream: Any) -> None:
    s, wire, _ = stream()
    s.send(OutgoingFrame([b"K0", b"K1"], 6000, True, 0, 4))
    original = parse(wire.sent[1], VIDEO)
    await s.retransmit(original.sequence_number)
    await s.retransmit(original.sequence_number + 500)  # no longer (or never) in the history
    assert len(wire.sent) == 3
    rtx = parse(wire.sent[2], VIDEO)
    assert (rtx.ssrc, rtx.payload_type, rtx.timestamp, rtx.marker) == (2222, 103, original.timestamp, 1)
    assert rtx.payload == original.sequence_number.to_bytes(2, "big") + b"K1"  # RFC 4588 OSN
    assert rtx.extensions.mid == "0"


async def test_a_viewer_that_cannot_keep_up_skips_to_the_next_keyframe(stream: Any) -> None:
    s, wire, _ = stream()
    s.send(OutgoingFrame([b"K"], 0, True, 0, 1))
    wire.queued_bytes = rtp_stream.MAX_QUEUED_BYTES + 1
    s.send(OutgoingFrame([b"P1"], 3000, False, 0, 2))
    wire.queued_bytes = 0
    s.send(OutgoingFrame([b"P2"], 6000, False, 0, 2))  # would not decode without P1
    s.send(OutgoingFrame([b"K2"], 9000, True, 0, 2))
    assert [parse(p, VIDEO).payload for p in wire.sent] == [b"K", b"K2"]
    assert s.dropped == 1
