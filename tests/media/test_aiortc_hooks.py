"""Fails loudly when an aiortc internal that server/media/aiortc_hooks.py relies on changes."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import queue

import pytest
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.rtcdtlstransport import SRTP_PROFILES, RTCCertificate, RTCDtlsTransport
from aiortc.rtcrtpreceiver import decoder_worker
from OpenSSL import SSL

from server.media import aiortc_hooks
from server.media.tracks import ForwardedTrack

from .conftest import wait_for

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


def test_dtls_failure_is_set_while_the_ssl_error_is_handled() -> None:
    # note_dtls_failure reads the OpenSSL error from sys.exc_info() inside _set_state(FAILED).
    source = inspect.getsource(RTCDtlsTransport._do_handshake)
    handler = source.split("except SSL.Error as exc:", 1)[1].split("else:", 1)[0]
    assert "self._set_state(State.FAILED)" in handler
    assert list(inspect.signature(RTCDtlsTransport._set_state).parameters) == ["self", "state"]


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


async def test_frames_completed_behind_a_repaired_gap_are_released_at_once() -> None:
    # aiortc releases one frame per packet: after a retransmission fills a gap, the frames completed
    # meanwhile would each wait for a later packet, for good when every frame is one packet (internal 15).
    from aiortc.rtp import RtpPacket

    pc = RTCPeerConnection()
    try:
        receiver = pc.addTransceiver("video", direction="recvonly").receiver
        seen: list[int] = []
        aiortc_hooks.tap_encoded_frames(receiver, lambda codec, data, timestamp: seen.append(timestamp))
        jitter_buffer = receiver._RTCRtpReceiver__jitter_buffer
        tap = receiver._RTCRtpReceiver__decoder_queue

        class Codec:
            name = "H264"

        mapper = receiver._RTCRtpReceiver__timestamp_mapper

        def arrive(sequence: int) -> None:  # as RTCRtpReceiver._handle_rtp_packet does
            packet = RtpPacket(payload_type=96, sequence_number=sequence, timestamp=90_000 + sequence * 3000)
            packet._data = b"\x00\x00\x00\x01\x41"
            _, frame = jitter_buffer.add(packet)
            if frame is not None:
                frame.timestamp = mapper.map(frame.timestamp)
                tap.put((Codec(), frame))

        for sequence in (0, 2, 3, 4):  # packet 1 lost
            arrive(sequence)
        assert seen == []
        arrive(1)  # its retransmission: frames 0-3 are complete (4 waits for the next frame's start)
        assert seen == [0, 3000, 6000, 9000]  # mapped as the receiver maps them: from the first
    finally:
        await pc.close()


# -- WHEP sending (internals 8–12) ----------------------------------------------------------


def test_h264_packetizer_is_aiortcs() -> None:
    # internal 8: Encoder.pack(av.Packet) → (payloads, timestamp), STAP-A for small NAL units
    # (parameter sets), FU-A for those over PACKET_MAX.
    from aiortc.codecs.h264 import PACKET_MAX, H264Encoder

    assert list(inspect.signature(H264Encoder.pack).parameters) == ["self", "packet"]
    sps, pps, idr = b"\x67\x42\x00\x1f", b"\x68\xce\x3c\x80", b"\x65" + bytes(range(256)) * 12
    payloads = aiortc_hooks.H264Packetizer().payloads(b"".join(b"\x00\x00\x00\x01" + n for n in (sps, pps, idr)))
    assert payloads[0] == b"\x78" + b"\x00\x04" + sps + b"\x00\x04" + pps  # STAP-A
    assert {p[0] & 0x1F for p in payloads[1:]} == {28} and all(len(p) <= PACKET_MAX for p in payloads)
    assert b"".join(p[2:] for p in payloads[1:]) == idr[1:]  # FU-A fragments, in order


async def test_sender_retransmit_hook_receives_nacks() -> None:
    # internal 9: aiortc's RTCP handler awaits self._retransmit(seq) for every NACKed packet.
    from aiortc.rtp import RTCP_RTPFB_NACK, RtcpRtpfbPacket

    assert list(inspect.signature(RTCRtpSender._retransmit).parameters) == ["self", "sequence_number"]
    pc = RTCPeerConnection()
    try:
        sender = pc.addTransceiver("video", direction="sendonly").sender
        asked: list[int] = []

        async def retransmit(sequence_number: int) -> None:
            asked.append(sequence_number)

        aiortc_hooks.take_over_retransmission(sender, retransmit)
        nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=sender._ssrc)
        nack.lost = [7, 9]
        await sender._handle_rtcp_packet(nack)
        assert asked == [7, 9]
    finally:
        await pc.close()


async def test_sender_keyframe_hook_receives_pli_and_fir() -> None:
    # internal 13: aiortc's RTCP handler calls self._send_keyframe() for a PLI or FIR on the sender's SSRC.
    from aiortc.rtp import RTCP_PSFB_FIR, RTCP_PSFB_PLI, RtcpPsfbPacket

    assert list(inspect.signature(RTCRtpSender._send_keyframe).parameters) == ["self"]
    pc = RTCPeerConnection()
    try:
        sender = pc.addTransceiver("video", direction="sendonly").sender
        asked: list[str] = []
        aiortc_hooks.take_over_keyframe_requests(sender, lambda: asked.append("keyframe"))
        for fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            await sender._handle_rtcp_packet(RtcpPsfbPacket(fmt=fmt, ssrc=1, media_ssrc=sender._ssrc))
        assert asked == ["keyframe", "keyframe"]
    finally:
        await pc.close()


async def test_sender_reports_say_what_the_stream_reported() -> None:
    # internal 10: _run_rtcp builds each SR from the four private counters report_sent writes.
    from aiortc.rtp import RtcpSrPacket

    pc = RTCPeerConnection()
    try:
        sender = pc.addTransceiver("video", direction="sendonly").sender
        aiortc_hooks.report_sent(sender, ntp=0x1234_5678_9ABC_DEF0, rtp_timestamp=424242, packets=77, octets=99_000)
        sent: list[object] = []

        async def capture(packets: list[object]) -> None:  # test-only: no transport needed
            sent.extend(packets)

        sender._send_rtcp = capture
        task = asyncio.ensure_future(sender._run_rtcp())
        await wait_for(lambda: any(isinstance(p, RtcpSrPacket) for p in sent), within=3, what="a sender report")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        report = next(p for p in sent if isinstance(p, RtcpSrPacket))
        info = report.sender_info
        assert (info.ntp_timestamp, info.rtp_timestamp, info.packet_count, info.octet_count) == (
            0x1234_5678_9ABC_DEF0,
            424242,
            77,
            99_000,
        )
    finally:
        await pc.close()


async def test_rtp_wire_is_where_aiortc_sends() -> None:
    # internals 11 and 12: what RTCDtlsTransport._send_rtp → aioice Connection.send does,
    # step by step; then the wire of a really connected pair.
    from aioice.ice import Connection, StunProtocol

    assert "self._tx_srtp.protect(data)" in inspect.getsource(RTCDtlsTransport._send_rtp)
    assert "await self.transport._send(data)" in inspect.getsource(RTCDtlsTransport._send_rtp)
    assert "self._nominated.get(component)" in inspect.getsource(Connection.sendto)
    assert "active_pair.protocol.send_data(data, active_pair.remote_addr)" in inspect.getsource(Connection.sendto)
    assert "self.transport.sendto(data, addr)" in inspect.getsource(StunProtocol.send_data)

    sending, receiving = RTCPeerConnection(), RTCPeerConnection()
    try:
        sender = sending.addTransceiver(ForwardedTrack("video"), direction="sendonly").sender
        receiving.addTransceiver("video", direction="recvonly")
        assert aiortc_hooks.rtp_wire(sender) is None  # not connected yet
        await sending.setLocalDescription(await sending.createOffer())
        await receiving.setRemoteDescription(sending.localDescription)
        await receiving.setLocalDescription(await receiving.createAnswer())
        await sending.setRemoteDescription(receiving.localDescription)
        await wait_for(lambda: aiortc_hooks.rtp_wire(sender) is not None, what="a connected wire")
        wire = aiortc_hooks.rtp_wire(sender)
        assert wire is not None
        assert sender.transport.transport._connection._nominated[1].remote_addr == wire.address
        assert wire.sendto.__self__ is sender.transport.transport._connection._nominated[1].protocol.transport
        assert wire.queued() == 0
        assert len(wire.protect(bytes([0x80, 96, 0, 1]) + bytes(8) + bytes(100))) > 112  # SRTP adds its tag
    finally:
        await sending.close()
        await receiving.close()


def _remb_count(estimator: object, frames: int) -> tuple[int, list[int]]:
    """Feed 30 fps of 8-packet frames whose arrival drifts later by 5 ms a frame (a queue building up:
    overuse); returns how many REMBs the estimator asked for and their bitrates."""
    sent = []
    for n in range(frames):
        abs_send_time = round(n / 30 * (1 << 18)) & 0xFFFFFF  # 6.18 fixed-point seconds
        for _ in range(8):
            remb = estimator.add(  # type: ignore[attr-defined]
                arrival_time_ms=1000 + n * 38, abs_send_time=abs_send_time, payload_size=1200, ssrc=1234
            )
            if remb is not None:
                sent.append(remb[0])
    return len(sent), sent


async def test_remb_is_throttled_as_libwebrtc_does() -> None:
    # The receiver sends whatever its estimator's `add` returns (internal 16).
    source = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    assert "remb = self.__remote_bitrate_estimator.add(" in source and "fci=pack_remb_fci(*remb)" in source
    pc = RTCPeerConnection()
    try:
        plain = pc.addTransceiver("video", direction="recvonly").receiver
        throttled = pc.addTransceiver("video", direction="recvonly").receiver
        audio = pc.addTransceiver("audio", direction="recvonly").receiver
        aiortc_hooks.throttle_remb(throttled)
        aiortc_hooks.throttle_remb(audio)  # nothing to throttle: no estimator
        frames = 90  # 3 s
        every, _ = _remb_count(plain._RTCRtpReceiver__remote_bitrate_estimator, frames)
        fewer, bitrates = _remb_count(throttled._RTCRtpReceiver__remote_bitrate_estimator, frames)
        print(f"REMBs over 3 s of overuse: {every} unthrottled, {fewer} throttled")
        assert every > 100  # one per packet while overusing
        # At most one per 200 ms, plus one per 3 % drop (each drop is let through at once).
        drops = sum(1 for a, b in itertools.pairwise(bitrates) if b <= a * aiortc_hooks.REMB_DROP)
        assert 1 <= fewer <= 3000 // aiortc_hooks.REMB_INTERVAL_MS + 1 + drops < every
        assert bitrates == sorted(bitrates, reverse=True)  # overuse only lowers the estimate
    finally:
        await pc.close()
