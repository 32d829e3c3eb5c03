"""Every use of an aiortc internal, in one place (aiortc==1.16.0).

Nothing here patches aiortc globally: each hook acts on one peer connection or receiver
that this package created. `tests/media/test_aiortc_hooks.py` fails loudly when an
internal named below changes.

Internals used:
1. `RTCCertificate._create_ssl_context` — overridden in a subclass to widen the DTLS cipher
   list from ECDHE-ECDSA only to ECDHE-ECDSA + ECDHE-RSA, so that when we must be the DTLS
   client (a peer that offers `setup:passive`) a peer with an RSA certificate (GStreamer
   webrtcbin, FFmpeg) can still complete the handshake.
2. `RTCPeerConnection._RTCPeerConnection__certificates` — the certificate list the
   connection hands its DTLS transports; replaced by the subclass above at construction.
3. `RTCDtlsTransport._role` / `RTCDtlsTransport._set_role` — aiortc answers `actpass` offers
   with `setup:active`; WHIP clients (webrtcbin, FFmpeg) expect the server to be passive, so
   we set the DTLS server role before `createAnswer()`, and the answer says `passive`.
4. `RTCRtpReceiver._RTCRtpReceiver__decoder_queue` — the queue between the jitter buffer
   (on the event loop) and the decoder thread. We swap it, before the receiver starts, for a
   queue that hands each complete encoded frame to us and never decodes (encode at most once).
5. `RTCRtpReceiver._RTCRtpReceiver__decoder_thread` — read only, to assert the swap happens
   before the decoder thread captured the queue.
6. `RTCRtpReceiver._send_rtcp_pli` — to ask the publisher for a keyframe.
7. (read in tests only) `JitterBuffer._prefetch` of the receivers — server/media/feed.py
   compensates those buffering delays to keep audio and video in sync.
15. `RTCRtpReceiver._RTCRtpReceiver__jitter_buffer`, `JitterBuffer._remove_frame(_)` and `._origin`, and
   `RTCRtpReceiver._RTCRtpReceiver__timestamp_mapper.map` (what the receiver does to each frame's RTP
   timestamp before queueing it: from the stream's first one, unwrapped) — aiortc
   releases at most one frame per packet received, so the frames completed while a gap waited (a
   retransmission, or a lost Opus packet until the buffer overflows) would each wait for a later
   packet, for good when every frame is one packet (every Opus frame, a still picture): a lasting delay
   of that track alone, hence audio and video apart by 60-300 ms. The tap releases them at once (the
   audio buffer's own prefetch is kept: `_remove_frame` honours it).
16. `RTCRtpReceiver._RTCRtpReceiver__remote_bitrate_estimator` (a video receiver's) and its
   `add(arrival_time_ms, abs_send_time, payload_size, ssrc)` → (bitrate, ssrcs) or None, which the
   receiver sends as REMB whenever it returns one: while the estimator says "overusing" it returns
   one for every packet, so a server late to read its socket (the cause of the overuse it sees) sent
   a REMB per packet too — a tenth of the ingest loop's time in a 3-on-air stage run at load 7. As
   libwebrtc's receivers do, a REMB goes out at once when the estimate drops by 3 % or more, and
   otherwise at most every `REMB_INTERVAL_MS`.

WHEP viewers: aiortc's RTCRtpSender costs ≈ 70 µs of Python per RTP packet per viewer (packet
objects, `datetime` clock reads, four coroutine layers), so server/media/rtp_stream.py sends
the RTP itself and leaves aiortc everything else (negotiation, RTCP in and out, BYE):
8. `aiortc.codecs.get_encoder(codec).pack(av.Packet)` → (payloads, timestamp) — aiortc's
   H.264 packetiser (STAP-A / FU-A), which its sender runs on a packet a track returns; we run
   it once per frame for all viewers instead of once per viewer.
9. `RTCRtpSender._retransmit(sequence_number)` — replaced on each viewer's sender so that a
   NACK resends from the stream's own history (as RTX when negotiated).
10. `RTCRtpSender._RTCRtpSender__ntp_timestamp`, `__rtp_timestamp`, `__packet_count`,
   `__octet_count` — written after each frame, so the sender reports `_run_rtcp` sends every
   second describe what the stream sent.
11. `RTCDtlsTransport._tx_srtp` — the viewer's SRTP session (pylibsrtp), to protect packets.
12. `RTCIceTransport._connection` (the aioice `Connection`) and aioice's
   `Connection._nominated[1]` (aioice 0.13), a `CandidatePair` whose `protocol.transport` and
   `remote_addr` are where aioice's own `Connection.send` writes: one `sendto` per packet
   without the four coroutine layers in between.
13. `RTCRtpSender._send_keyframe()` — what aiortc's RTCP handler calls when a viewer sends PLI or
   FIR (it would force its own encoder's next keyframe); replaced on each viewer's video sender so
   the request reaches whoever encodes: the publisher, or the VP8 fallback's x264.
14. `RTCDtlsTransport._set_state` — wrapped on each of our DTLS transports to note why a handshake
   failed (aiortc says so only at debug level): it is called with FAILED inside the `except
   SSL.Error` block of `_do_handshake`, so the OpenSSL error is the exception being handled.
"""

from __future__ import annotations

import queue
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.codecs import get_encoder
from aiortc.rtcdtlstransport import RTCCertificate, RTCDtlsTransport
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

# ECDHE-RSA suites appended after aiortc's own ECDSA ones (kept first so nothing changes
# for peers that already worked).
WIDE_DTLS_CIPHERS = (
    b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:"
    b"ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:"
    b"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
    b"ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA"
)

# libwebrtc's REMB throttle: a decrease of at least 3 % at once, anything else at most every 200 ms.
REMB_INTERVAL_MS = 200
REMB_DROP = 0.97

EncodedFrameSink = Callable[[str, bytes, int], None]
"""(codec name e.g. "H264"/"VP8"/"opus", encoded frame bytes, unwrapped RTP timestamp)."""


class WideCipherCertificate(RTCCertificate):
    """aiortc's ECDSA certificate, accepting RSA peers when we are the DTLS client."""

    def _create_ssl_context(self, srtp_profiles: Any) -> Any:  # internal 1
        ctx = super()._create_ssl_context(srtp_profiles)
        ctx.set_cipher_list(WIDE_DTLS_CIPHERS)
        return ctx


def new_peer_connection() -> RTCPeerConnection:
    pc = RTCPeerConnection()
    (cert,) = pc._RTCPeerConnection__certificates  # type: ignore[attr-defined]  # internal 2
    pc._RTCPeerConnection__certificates = [  # type: ignore[attr-defined]
        WideCipherCertificate(key=cert._key, cert=cert._cert)
    ]
    return pc


def answer_passive(pc: RTCPeerConnection, offer_sdp: str) -> None:
    """Call after setRemoteDescription(offer): answer `passive` to an `actpass` offer.

    aiortc itself already answers `passive` to `active`; to a `passive` offer (FFmpeg's WHIP
    muxer) we must be the client, and the wide cipher list lets that work with RSA too.
    """
    setups = {line.strip()[8:] for line in offer_sdp.splitlines() if line.startswith("a=setup:")}
    if setups and setups != {"actpass"}:
        return
    for transceiver in pc.getTransceivers():
        transport = transceiver.receiver.transport
        if transport._role == "auto":  # internal 3
            transport._set_role("server")


def note_dtls_failure(transport: RTCDtlsTransport, note: Callable[[str], None]) -> None:
    """Call `note(reason)` once if this transport's DTLS handshake fails, with what OpenSSL said."""
    set_state = transport._set_state  # internal 14

    def watched(state: DtlsState) -> None:
        if state is DtlsState.FAILED and transport.state not in ("failed", "closed"):
            error = sys.exc_info()[1]
            if error is not None:
                note(f"DTLS handshake failed: {type(error).__name__}: {error}"[:300])
            elif transport.encrypted:
                note("DTLS handshake failed: the peer's certificate does not match a=fingerprint, or no SRTP profile")
            else:
                note("DTLS handshake failed: the connection went away")
        set_state(state)

    transport._set_state = watched  # type: ignore[method-assign]


class _EncodedFrameTap(queue.Queue):  # type: ignore[type-arg]
    """Stands in for the decoder queue: encoded frames go to the sink, never to a decoder.

    `put` is called on the event loop by `RTCRtpReceiver._handle_rtp_packet` with
    `(codec, JitterFrame)`, and with `None` when the receiver stops; the `None` still reaches
    aiortc's (idle) decoder thread so the remote track ends exactly as aiortc intends.
    """

    def __init__(self, sink: EncodedFrameSink, jitter_buffer: Any = None, timestamps: Any = None) -> None:
        super().__init__()
        self._sink = sink
        self._jitter_buffer = jitter_buffer
        self._timestamps = timestamps  # the receiver's TimestampMapper

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(item, block, timeout)
            return
        codec, frame = item
        self._sink(codec.name, frame.data, frame.timestamp)
        if self._jitter_buffer is None or self._timestamps is None or self._jitter_buffer._origin is None:
            return  # not a frame from the buffer (nothing received yet)
        # Every other frame already complete, now rather than one per later packet (internal 15), its
        # timestamp mapped as the receiver maps the one it queued.
        while (more := self._jitter_buffer._remove_frame(0)) is not None:
            self._sink(codec.name, more.data, self._timestamps.map(more.timestamp))


def tap_encoded_frames(receiver: RTCRtpReceiver, sink: EncodedFrameSink) -> None:
    """Route the receiver's reassembled frames to `sink` instead of aiortc's decoder."""
    if receiver._RTCRtpReceiver__decoder_thread is not None:  # type: ignore[attr-defined]  # 5
        raise RuntimeError("tap_encoded_frames must run before the receiver starts")
    jitter_buffer = receiver._RTCRtpReceiver__jitter_buffer  # type: ignore[attr-defined]  # 15
    timestamps = receiver._RTCRtpReceiver__timestamp_mapper  # type: ignore[attr-defined]  # 15
    receiver._RTCRtpReceiver__decoder_queue = _EncodedFrameTap(sink, jitter_buffer, timestamps)  # type: ignore[attr-defined]  # 4


def throttle_remb(receiver: RTCRtpReceiver) -> None:
    """At most a REMB every REMB_INTERVAL_MS from this receiver, but a drop at once (internal 16)."""
    estimator = receiver._RTCRtpReceiver__remote_bitrate_estimator  # type: ignore[attr-defined]  # 16
    if estimator is None:
        return  # an audio receiver estimates nothing
    estimate = estimator.add
    last: list[int] = []  # [bitrate, arrival ms] of the REMB last let through

    def add(arrival_time_ms: int, abs_send_time: int, payload_size: int, ssrc: int) -> tuple[int, list[int]] | None:
        remb = estimate(
            arrival_time_ms=arrival_time_ms, abs_send_time=abs_send_time, payload_size=payload_size, ssrc=ssrc
        )
        if remb is None:
            return None
        if last and arrival_time_ms - last[1] < REMB_INTERVAL_MS and remb[0] > last[0] * REMB_DROP:
            return None
        last[:] = remb[0], arrival_time_ms
        return remb

    estimator.add = add


async def request_keyframe(receiver: RTCRtpReceiver) -> None:
    """Send an RTCP PLI for every SSRC the receiver currently hears."""
    for source in receiver.getSynchronizationSources():
        await receiver._send_rtcp_pli(source.source)  # internal 6


# -- WHEP: sending RTP without aiortc's per-packet loop -------------------------------------


class H264Packetizer:
    """aiortc's H.264 RTP packetiser (internal 8): Annex-B access unit → RTP payloads."""

    def __init__(self) -> None:
        self._encoder = get_encoder(RTCRtpCodecParameters(mimeType="video/H264", clockRate=90_000, payloadType=0))
        self._time_base = Fraction(1, 90_000)

    def payloads(self, annexb: bytes) -> list[bytes]:
        packet = av.Packet(annexb)
        packet.pts, packet.time_base = 0, self._time_base
        payloads, _ = self._encoder.pack(packet)
        return payloads


@dataclass(frozen=True, slots=True)
class RtpWire:
    """Where one viewer's RTP goes once DTLS is up: its SRTP session and its UDP socket."""

    protect: Callable[[bytes], bytes]
    sendto: Callable[[bytes, tuple[str, int]], None]  # the asyncio datagram transport's
    address: tuple[str, int]
    queued: Callable[[], int]  # bytes waiting in user space: the kernel buffer was full


def rtp_wire(sender: RTCRtpSender) -> RtpWire | None:
    """The sender's SRTP session and selected ICE pair, or None while not connected."""
    dtls = sender.transport
    if dtls.state != "connected":
        return None
    pair = dtls.transport._connection._nominated.get(1)  # internal 12
    if pair is None or pair.protocol.transport is None:
        return None
    transport = pair.protocol.transport
    return RtpWire(
        dtls._tx_srtp.protect,  # internal 11
        transport.sendto,
        pair.remote_addr,
        transport.get_write_buffer_size,  # type: ignore[attr-defined]  # asyncio's datagram transports have it
    )


def take_over_retransmission(sender: RTCRtpSender, retransmit: Callable[[int], Coroutine[Any, Any, None]]) -> None:
    """NACKs for this sender's SSRC call `retransmit(sequence_number)` instead of aiortc's history."""
    sender._retransmit = retransmit  # type: ignore[method-assign,assignment]  # internal 9


def take_over_keyframe_requests(sender: RTCRtpSender, on_picture_loss: Callable[[], None]) -> None:
    """A viewer's PLI or FIR for this sender calls `on_picture_loss()` (on the event loop)."""
    sender._send_keyframe = on_picture_loss  # type: ignore[method-assign]  # internal 13


def report_sent(sender: RTCRtpSender, ntp: int, rtp_timestamp: int, packets: int, octets: int) -> None:
    """What the next RTCP sender report says: NTP ↔ RTP timestamp of the last frame, totals so far."""
    sender._RTCRtpSender__ntp_timestamp = ntp  # type: ignore[attr-defined]  # internal 10
    sender._RTCRtpSender__rtp_timestamp = rtp_timestamp  # type: ignore[attr-defined]
    sender._RTCRtpSender__packet_count = packets  # type: ignore[attr-defined]
    sender._RTCRtpSender__octet_count = octets  # type: ignore[attr-defined]
