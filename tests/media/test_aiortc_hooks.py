"""Fails loudly when an aiortc internal that server/media/aiortc_hooks.py relies on changes."""

from __future__ import annotations

import inspect
import queue

import pytest
from aiortc import RTCPeerConnection, RTCRtpReceiver
from aiortc.rtcdtlstransport import SRTP_PROFILES, RTCCertificate, RTCDtlsTransport
from aiortc.rtcrtpreceiver import decoder_worker
from OpenSSL import SSL

from server.media import aiortc_hooks

pytestmark = pytest.mark.media


def test_certificate_ssl_context_hook_exists_and_widens_ciphers() -> None:
    assert list(inspect.signature(RTCCertificate._create_ssl_context).parameters) == ["self", "srtp_profiles"]
    pc = aiortc_hooks.new_peer_connection()
    (cert,) = pc._RTCPeerConnection__certificates
    assert isinstance(cert, aiortc_hooks.WideCipherCertificate)
    ctx = cert._create_ssl_context(srtp_profiles=SRTP_PROFILES)
    ciphers = SSL.Connection(ctx).get_cipher_list()
    assert "ECDHE-RSA-AES128-GCM-SHA256" in ciphers and "ECDHE-ECDSA-AES128-GCM-SHA256" in ciphers


async def test_dtls_role_internals_exist() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="recvonly")
        transport = transceiver.receiver.transport
        assert isinstance(transport, RTCDtlsTransport)
        assert transport._role == "auto"
        transport._set_role("server")
        assert transport._role == "server"
    finally:
        await pc.close()


async def test_receiver_decoder_queue_internals_exist() -> None:
    # The tap replaces the queue that decoder_worker(loop, input_q, ...) reads.
    assert list(inspect.signature(decoder_worker).parameters)[:2] == ["loop", "input_q"]
    assert inspect.iscoroutinefunction(RTCRtpReceiver._send_rtcp_pli)
    pc = RTCPeerConnection()
    try:
        receiver = pc.addTransceiver("video", direction="recvonly").receiver
        assert isinstance(receiver._RTCRtpReceiver__decoder_queue, queue.Queue)
        assert receiver._RTCRtpReceiver__decoder_thread is None
        seen: list[tuple[str, bytes, int]] = []
        aiortc_hooks.tap_encoded_frames(receiver, lambda *frame: seen.append(frame))
        tap = receiver._RTCRtpReceiver__decoder_queue

        class Codec:
            name = "H264"

        class Frame:
            data, timestamp = b"\x00\x00\x00\x01\x65", 3000

        tap.put((Codec(), Frame()))
        assert seen == [("H264", b"\x00\x00\x00\x01\x65", 3000)]
        tap.put(None)  # the stop sentinel still reaches the (idle) decoder thread
        assert tap.get_nowait() is None
    finally:
        await pc.close()


async def test_jitter_buffer_delays_match_feed_compensation() -> None:
    # server/media/feed.py compensates AUDIO_BUFFERED_SECONDS = prefetch × 20 ms and one
    # video frame; if aiortc changes its buffering, A/V sync silently shifts.
    from server.media.feed import AUDIO_BUFFERED_SECONDS

    pc = RTCPeerConnection()
    try:
        audio = pc.addTransceiver("audio", direction="recvonly").receiver
        video = pc.addTransceiver("video", direction="recvonly").receiver
        assert audio._RTCRtpReceiver__jitter_buffer._prefetch * 0.020 == AUDIO_BUFFERED_SECONDS
        assert video._RTCRtpReceiver__jitter_buffer._prefetch == 0
    finally:
        await pc.close()
