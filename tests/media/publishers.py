"""Test publishers and viewers built from aiortc (a real WebRTC peer, not a mock)."""

from __future__ import annotations

import array
import asyncio
import fractions
import math
import time

import av
import httpx
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import AUDIO_PTIME, VIDEO_CLOCK_RATE

from server.media.bitstream import h264_is_keyframe

SDP = {"Content-Type": "application/sdp"}


class PatternVideoTrack(MediaStreamTrack):
    """320×240 frames whose luma encodes the frame number (or is `shade` throughout), paced in real time."""

    kind = "video"

    def __init__(self, width: int = 320, height: int = 240, fps: int = 30, shade: int | None = None) -> None:
        super().__init__()
        self.width, self.height, self.fps, self.shade = width, height, fps, shade
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        target = self._start + self._n / self.fps
        await asyncio.sleep(max(0.0, target - time.monotonic()))
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        shade = (self._n * 7) % 200 + 16 if self.shade is None else self.shade
        for i, plane in enumerate(frame.planes):
            plane.update(bytes([shade if i == 0 else 128]) * plane.buffer_size)
        frame.pts = int(self._n * VIDEO_CLOCK_RATE / self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK_RATE)
        self._n += 1
        return frame


class ToneAudioTrack(MediaStreamTrack):
    """48 kHz stereo tone (440 Hz unless told) in 20 ms frames, paced in real time."""

    kind = "audio"

    def __init__(self, frequency: float = 440.0) -> None:
        super().__init__()
        self._samples = 0
        self._start: float | None = None
        self._rate = 48_000
        size = int(AUDIO_PTIME * self._rate)

        # A whole number of periods per 20 ms frame keeps the tone clean across frames (multiples of 50 Hz).
        one = array.array("h", (int(6000 * math.sin(2 * math.pi * frequency * k / self._rate)) for k in range(size)))
        stereo = array.array("h", (v for v in one for _ in range(2)))
        self._payload = stereo.tobytes()
        self._size = size

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        target = self._start + self._samples / self._rate
        await asyncio.sleep(max(0.0, target - time.monotonic()))
        frame = av.AudioFrame(format="s16", layout="stereo", samples=self._size)
        frame.planes[0].update(self._payload)
        frame.pts = self._samples
        frame.sample_rate = self._rate
        frame.time_base = fractions.Fraction(1, self._rate)
        self._samples += self._size
        return frame


class PausableTrack(MediaStreamTrack):
    """Wraps a track; while paused its frames are discarded, so the sender sends no RTP at all
    and the peer connection stays up: a browser whose capture or encoder died, not one that left."""

    def __init__(self, track: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = track.kind
        self._track = track
        self.paused = False

    async def recv(self) -> av.frame.Frame:
        while True:  # keep pulling the inner track so its clock stays real-time across the pause
            frame = await self._track.recv()
            if not self.paused:
                return frame


def _only(kind: str, name: str) -> list:
    return [c for c in RTCRtpSender.getCapabilities(kind).codecs if c.name in (name, "rtx")]


class AiortcPublisher:
    """A WHIP client: aiortc sends a tone and a pattern, offering one video codec."""

    def __init__(
        self,
        base_url: str,
        slug: str,
        token: str,
        video_codec: str = "H264",
        source: str = "camera",
        tone: float = 440.0,
        shade: int | None = None,
        video: bool = True,
    ):
        self.base_url, self.slug, self.token = base_url, slug, token
        self.video_codec, self.source = video_codec, source
        self.pc = RTCPeerConnection()
        self.location: str | None = None
        self.video_track: MediaStreamTrack = PatternVideoTrack(shade=shade)
        self.audio_track: MediaStreamTrack = ToneAudioTrack(tone)
        self.video = video  # False: a microphone only

    async def start(self) -> httpx.Response:
        if self.video:
            video = self.pc.addTransceiver(self.video_track, direction="sendonly")
            video.setCodecPreferences(_only("video", self.video_codec))
        self.pc.addTransceiver(self.audio_track, direction="sendonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        async with httpx.AsyncClient(base_url=self.base_url, timeout=20) as http:
            response = await http.post(
                f"/whip/{self.slug}",
                params={"source": self.source} if self.source != "camera" else None,
                content=self.pc.localDescription.sdp,
                headers={**SDP, "Authorization": f"Bearer {self.token}"},
            )
        if response.status_code == 201:
            self.location = response.headers["location"]
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
        return response

    async def delete(self) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=20) as http:
            return await http.delete(self.location, headers={"Authorization": f"Bearer {self.token}"})

    async def close(self) -> None:
        await self.pc.close()


class AiortcViewer:
    """A WHEP client: receives audio + video from /whep/{slug} and decodes them."""

    def __init__(self, base_url: str, slug: str, token: str, member: str | None = None) -> None:
        self.base_url, self.slug, self.token, self.member = base_url, slug, token, member
        self.pc = RTCPeerConnection()
        self.frames: dict[str, int] = {"audio": 0, "video": 0}
        self.location: str | None = None
        self._readers: list[asyncio.Task[None]] = []

    async def start(self) -> httpx.Response:
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.addTransceiver("audio", direction="recvonly")

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._readers.append(asyncio.ensure_future(self._read(track)))

        await self.pc.setLocalDescription(await self.pc.createOffer())
        async with httpx.AsyncClient(base_url=self.base_url, timeout=20) as http:
            response = await http.post(
                f"/whep/{self.slug}",
                params={"member": self.member} if self.member else None,
                content=self.pc.localDescription.sdp,
                headers={**SDP, "Authorization": f"Bearer {self.token}"},
            )
        if response.status_code == 201:
            self.location = response.headers["location"]
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
        return response

    async def _read(self, track: MediaStreamTrack) -> None:
        from aiortc.mediastreams import MediaStreamError

        try:
            while True:
                frame = await track.recv()
                self.frames[track.kind] += 1
                self.on_frame(track.kind, frame)
        except MediaStreamError:
            pass

    def on_frame(self, kind: str, frame: object) -> None:
        """Override to inspect decoded frames."""

    async def close(self) -> None:
        await self.pc.close()
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


FPS = 30
RATE = 48_000
FRAME_SAMPLES = 960
BEEP_SECONDS = 0.1


class Clock:
    """One capture clock for both tracks, like a camera and a microphone on one device."""

    def __init__(self) -> None:
        self.start: float | None = None

    def origin(self) -> float:
        if self.start is None:
            self.start = time.monotonic()
        return self.start


class FlashVideo(MediaStreamTrack):
    kind = "video"

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock, self.n = clock, 0

    async def recv(self) -> av.VideoFrame:
        target = self.clock.origin() + self.n / FPS
        await asyncio.sleep(max(0.0, target - time.monotonic()))
        white = self.n % FPS < 3 and self.n >= FPS  # three white frames at each whole second
        frame = av.VideoFrame(320, 240, "yuv420p")
        for i, plane in enumerate(frame.planes):
            plane.update(bytes([(235 if white else 16) if i == 0 else 128]) * plane.buffer_size)
        frame.pts, frame.time_base = self.n * 3000, fractions.Fraction(1, 90_000)
        self.n += 1
        return frame


class BeepAudio(MediaStreamTrack):
    kind = "audio"

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock, self.samples = clock, 0
        self.tone = array.array("h", (12000 if (k // 24) % 2 else -12000 for k in range(FRAME_SAMPLES)))

    async def recv(self) -> av.AudioFrame:
        target = self.clock.origin() + self.samples / RATE
        await asyncio.sleep(max(0.0, target - time.monotonic()))
        second, offset = divmod(self.samples, RATE)
        loud = second >= 1 and offset < BEEP_SECONDS * RATE
        mono = self.tone if loud else array.array("h", bytes(2 * FRAME_SAMPLES))
        stereo = array.array("h", (v for v in mono for _ in range(2)))
        frame = av.AudioFrame(format="s16", layout="stereo", samples=FRAME_SAMPLES)
        frame.planes[0].update(stereo.tobytes())
        frame.pts, frame.sample_rate = self.samples, RATE
        frame.time_base = fractions.Fraction(1, RATE)
        self.samples += FRAME_SAMPLES
        return frame


class RtpViewer:
    """A WHEP client that looks at what arrives on the wire: frames with their RTP timestamps
    (aiortc's decoder bypassed, decoded here one by one), sender reports, retransmissions.

    `drop_every`: drop every n-th video RTP packet the first time it arrives (simulated loss,
    to be repaired by NACK → RTX). `picture_lost()` sends a PLI, as a browser whose decoder lost
    the picture does.

    Test-only use of aiortc 1.16 internals, on this viewer's own receivers: `_handle_rtp_packet`
    and `_handle_rtcp_packet` are wrapped, the timestamp mapper's `_origin` read, and
    `_send_rtcp_pli` called.
    """

    def __init__(self, base_url: str, slug: str, token: str, drop_every: int = 0) -> None:
        self.base_url, self.slug, self.token = base_url, slug, token
        self.pc = RTCPeerConnection()
        self.drop_every = drop_every
        self.dropped: set[int] = set()
        self.retransmitted = 0
        # kind → list of (RTP timestamp as sent, decoded frame)
        self.frames: dict[str, list[tuple[int, object]]] = {"audio": [], "video": []}
        self.decode_errors: list[tuple[str, int, str]] = []  # (kind, RTP timestamp, what the decoder said)
        # kind → (NTP seconds, RTP timestamp) of the latest sender report
        self.reports: dict[str, tuple[float, int]] = {}
        self.keyframes: list[float] = []  # when each video keyframe arrived (time.monotonic())
        self._decoders: dict[str, av.CodecContext] = {}
        self._receivers: dict[str, object] = {}
        self._media_ssrc: dict[str, int] = {}

    async def start(self) -> httpx.Response:
        from server.media.aiortc_hooks import tap_encoded_frames

        for kind in ("video", "audio"):
            receiver = self.pc.addTransceiver(kind, direction="recvonly").receiver
            tap_encoded_frames(
                receiver, lambda name, data, ts, r=receiver, k=kind: self._on_frame(r, k, name, data, ts)
            )
            self._watch_wire(receiver, kind)
            self._receivers[kind] = receiver
        await self.pc.setLocalDescription(await self.pc.createOffer())
        async with httpx.AsyncClient(base_url=self.base_url, timeout=20) as http:
            response = await http.post(
                f"/whep/{self.slug}",
                content=self.pc.localDescription.sdp,
                headers={**SDP, "Authorization": f"Bearer {self.token}"},
            )
        if response.status_code == 201:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
        return response

    def _watch_wire(self, receiver: object, kind: str) -> None:
        # Test-only wrappers of this viewer's own receivers (aiortc 1.16 internals).
        from aiortc.rtp import RtcpSrPacket

        handle_rtp, handle_rtcp = receiver._handle_rtp_packet, receiver._handle_rtcp_packet  # type: ignore[attr-defined]
        media_ssrc = self._media_ssrc

        async def on_rtp(packet, arrival_time_ms):  # type: ignore[no-untyped-def]
            ssrc = media_ssrc.setdefault(kind, packet.ssrc)
            if packet.ssrc != ssrc:
                self.retransmitted += 1
            elif (
                kind == "video"
                and self.drop_every
                and packet.sequence_number % self.drop_every == 0
                and packet.sequence_number not in self.dropped
            ):
                self.dropped.add(packet.sequence_number)
                return
            await handle_rtp(packet, arrival_time_ms)

        async def on_rtcp(packet):  # type: ignore[no-untyped-def]
            if isinstance(packet, RtcpSrPacket):
                info = packet.sender_info
                self.reports[kind] = (info.ntp_timestamp / 2**32, info.rtp_timestamp)
            await handle_rtcp(packet)

        receiver._handle_rtp_packet, receiver._handle_rtcp_packet = on_rtp, on_rtcp  # type: ignore[attr-defined]

    def _on_frame(self, receiver: object, kind: str, codec: str, data: bytes, mapped: int) -> None:
        # aiortc hands the tap timestamps relative to the first frame; undo that.
        origin = receiver._RTCRtpReceiver__timestamp_mapper._origin  # type: ignore[attr-defined]
        timestamp = (mapped + origin) % 2**32
        decoder = self._decoders.get(kind)
        if decoder is None:
            decoder = self._decoders[kind] = av.CodecContext.create("h264" if codec == "H264" else "libopus", "r")
            if kind == "audio":
                decoder.format, decoder.layout, decoder.sample_rate = "s16", "stereo", RATE  # type: ignore[attr-defined]
        if kind == "video" and h264_is_keyframe(data):
            self.keyframes.append(time.monotonic())
        packet = av.Packet(data)
        packet.pts = timestamp
        try:
            decoded = decoder.decode(packet)
        except av.error.FFmpegError as exc:
            self.decode_errors.append((kind, timestamp, str(exc)))
            return
        for frame in decoded:  # the decoder may hold frames back: its pts says which input it is
            self.frames[kind].append((frame.pts, frame))

    async def picture_lost(self) -> None:
        """RTCP PLI for the video stream: 'my decoder lost the picture, send a keyframe'."""
        await self._receivers["video"]._send_rtcp_pli(self._media_ssrc["video"])  # type: ignore[attr-defined]

    def ntp_seconds(self, kind: str, timestamp: int) -> float | None:
        """When the sender says the media instant at `timestamp` was, by its latest report."""
        report = self.reports.get(kind)
        if report is None:
            return None
        ntp, rtp_timestamp = report
        delta = (timestamp - rtp_timestamp + 2**31) % 2**32 - 2**31
        return ntp + delta / (VIDEO_CLOCK_RATE if kind == "video" else RATE)

    async def close(self) -> None:
        await self.pc.close()
