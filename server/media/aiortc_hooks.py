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
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpReceiver
from aiortc.rtcdtlstransport import RTCCertificate

# ECDHE-RSA suites appended after aiortc's own ECDSA ones (kept first so nothing changes
# for peers that already worked).
WIDE_DTLS_CIPHERS = (
    b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:"
    b"ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:"
    b"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
    b"ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA"
)

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


class _EncodedFrameTap(queue.Queue):  # type: ignore[type-arg]
    """Stands in for the decoder queue: encoded frames go to the sink, never to a decoder.

    `put` is called on the event loop by `RTCRtpReceiver._handle_rtp_packet` with
    `(codec, JitterFrame)`, and with `None` when the receiver stops; the `None` still reaches
    aiortc's (idle) decoder thread so the remote track ends exactly as aiortc intends.
    """

    def __init__(self, sink: EncodedFrameSink) -> None:
        super().__init__()
        self._sink = sink

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(item, block, timeout)
            return
        codec, frame = item
        self._sink(codec.name, frame.data, frame.timestamp)


def tap_encoded_frames(receiver: RTCRtpReceiver, sink: EncodedFrameSink) -> None:
    """Route the receiver's reassembled frames to `sink` instead of aiortc's decoder."""
    if receiver._RTCRtpReceiver__decoder_thread is not None:  # type: ignore[attr-defined]  # 5
        raise RuntimeError("tap_encoded_frames must run before the receiver starts")
    receiver._RTCRtpReceiver__decoder_queue = _EncodedFrameTap(sink)  # type: ignore[attr-defined]  # 4


async def request_keyframe(receiver: RTCRtpReceiver) -> None:
    """Send an RTCP PLI for every SSRC the receiver currently hears."""
    for source in receiver.getSynchronizationSources():
        await receiver._send_rtcp_pli(source.source)  # internal 6
