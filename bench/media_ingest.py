"""Benchmark: live media ingest cost, ours against the naive pipeline, in one run.

    python -m bench.media_ingest [--measure 20] [--soak 600] [--viewers 1,4,16]

Measures the *server process* (a child process, CPU from /proc/PID/stat, every thread):
  * CPU-s per stream-second for a 720p30 H.264 publisher and for a 720p30 VP8 publisher;
  * marginal CPU-s per stream-second of each WHEP viewer at 1/4/16 viewers (H.264 publisher);
  * capture → segment-listed latency (ours: segment events; see README for the method);
  * RSS over a soak run (ours).
Publishers and viewers live in this process and never encode or decode: they replay
pre-encoded packets (made once with the ffmpeg CLI) and count received frames without
decoding, so the machine's two cores are left to the server being measured.
Not a test: numbers vary with the machine and whatever else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import av
import httpx
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpSender, RTCSessionDescription

from server.media.aiortc_hooks import tap_encoded_frames

WARMUP_SECONDS = 4.0
CLIP_SECONDS = 10
VIDEO_BITRATE = "2500k"  # a typical 720p30 WebRTC camera bitrate (--bitrate to change)
SDP_HEADERS = {"Content-Type": "application/sdp", "Authorization": "Bearer bench"}
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
REPO = Path(__file__).resolve().parents[1]


def make_clips(directory: Path, video_bitrate: str = VIDEO_BITRATE) -> dict[str, Path]:
    """720p30 H.264 (baseline, 1 s GOP), VP8 (1 s GOP) and Opus, from ffmpeg's test sources."""
    clips = {"h264": directory / "clip.h264", "vp8": directory / "clip.ivf", "opus": directory / "clip.ogg"}
    src = ["-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={CLIP_SECONDS}"]
    run = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
    x264 = ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "baseline", "-bf", "0", "-g", "30"]
    vp8 = ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-g", "30"]
    tone = ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={CLIP_SECONDS}"]
    bitrate = ["-b:v", video_bitrate]
    subprocess.run([*run, *src, *x264, *bitrate, "-pix_fmt", "yuv420p", str(clips["h264"])], check=True)
    subprocess.run([*run, *src, *vp8, *bitrate, str(clips["vp8"])], check=True)
    subprocess.run([*run, *tone, "-ac", "2", "-c:a", "libopus", "-b:a", "64k", str(clips["opus"])], check=True)
    return clips


def load_packets(path: Path, clock: int) -> list[tuple[bytes, int, bool]]:
    """(data, pts in 1/clock, keyframe) of every packet of the clip's first stream."""
    out = []
    with av.open(str(path)) as container:
        stream = container.streams[0]
        frame_index = 0
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            # Raw H.264 has no timestamps: 30 fps by construction.
            pts = frame_index * clock // 30 if packet.pts is None else int(packet.pts * packet.time_base * clock)
            out.append((bytes(packet), pts, packet.is_keyframe))
            frame_index += 1
    return out


class ReplayTrack(MediaStreamTrack):
    """Sends pre-encoded packets in real time, looping the clip (aiortc only packetises)."""

    def __init__(self, kind: str, packets: list[tuple[bytes, int, bool]], clock: int) -> None:
        super().__init__()
        self.kind = kind
        self._packets, self._clock = packets, clock
        self._period = packets[-1][1] + (packets[1][1] - packets[0][1])
        self._i = 0
        self._start: float | None = None
        self.keyframe_times: list[float] = []

    async def recv(self) -> av.Packet:
        if self._start is None:
            self._start = time.monotonic()
        loop, index = divmod(self._i, len(self._packets))
        data, pts, key = self._packets[index]
        pts += loop * self._period
        await asyncio.sleep(max(0.0, self._start + pts / self._clock - time.monotonic()))
        if key:
            self.keyframe_times.append(time.monotonic())
        self._i += 1
        packet = av.Packet(data)
        packet.pts = pts
        packet.time_base = fractions.Fraction(1, self._clock)
        return packet


def codecs(kind: str, name: str) -> list:
    return [c for c in RTCRtpSender.getCapabilities(kind).codecs if c.name in (name, "rtx")]


@dataclass
class Peer:
    pc: RTCPeerConnection
    track: ReplayTrack | None = None
    frames: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})


async def publish(base: str, slug: str, video: ReplayTrack, audio: ReplayTrack, codec: str) -> Peer:
    pc = RTCPeerConnection()
    pc.addTransceiver(video, direction="sendonly").setCodecPreferences(codecs("video", codec))
    pc.addTransceiver(audio, direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(f"{base}/whip/{slug}", content=pc.localDescription.sdp, headers=SDP_HEADERS)
    r.raise_for_status()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=r.text, type="answer"))
    return Peer(pc, video)


async def view(base: str, slug: str) -> Peer:
    pc = RTCPeerConnection()
    peer = Peer(pc)
    for kind in ("video", "audio"):
        receiver = pc.addTransceiver(kind, direction="recvonly").receiver
        # Count frames without decoding: the viewer's cost must not land on the server's cores.
        tap_encoded_frames(receiver, lambda name, data, ts, k=kind: peer.frames.__setitem__(k, peer.frames[k] + 1))
    await pc.setLocalDescription(await pc.createOffer())
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(f"{base}/whep/{slug}", content=pc.localDescription.sdp, headers=SDP_HEADERS)
    r.raise_for_status()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=r.text, type="answer"))
    return peer


class ServerProcess:
    def __init__(self, kind: str, media_dir: Path) -> None:
        self.kind, self.media_dir = kind, media_dir
        self.segments: list[dict] = []

    async def __aenter__(self) -> ServerProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.media_server", self.kind, str(self.media_dir),
            cwd=REPO, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.port = json.loads(await self.proc.stdout.readline())["port"]
        self.base = f"http://127.0.0.1:{self.port}"
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            self.segments.append(json.loads(line))

    async def __aexit__(self, *exc: object) -> None:
        self.proc.terminate()
        await self.proc.wait()
        self._reader.cancel()

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def rss_mib(self) -> float:
        return int(Path(f"/proc/{self.proc.pid}/statm").read_text().split()[1]) * PAGE / 2**20


async def cpu_rate(server: ServerProcess, seconds: float) -> float:
    before, t0 = server.cpu_seconds(), time.monotonic()
    await asyncio.sleep(seconds)
    return (server.cpu_seconds() - before) / (time.monotonic() - t0)


async def run_pipeline(kind: str, clips: dict[str, list], args: argparse.Namespace, workdir: Path) -> dict:
    result: dict = {"pipeline": kind}
    async with ServerProcess(kind, workdir / kind) as server:
        idle = await cpu_rate(server, 2.0)
        result["idle"] = idle
        peers: list[Peer] = []
        try:
            video = ReplayTrack("video", clips["h264"], 90_000)
            pub = await publish(server.base, "h264", video, ReplayTrack("audio", clips["opus"], 48_000), "H264")
            peers.append(pub)
            await asyncio.sleep(WARMUP_SECONDS)
            base = await cpu_rate(server, args.measure)
            result["h264_publisher"] = base - idle
            viewers: list[Peer] = []
            result["viewers"] = {}
            for n in args.viewers:
                while len(viewers) < n:
                    viewers.append(await view(server.base, "h264"))
                peers[1:] = viewers
                await asyncio.sleep(WARMUP_SECONDS)
                rate = await cpu_rate(server, args.measure)
                frames = min(v.frames["video"] for v in viewers)
                result["viewers"][n] = {"marginal": (rate - base) / n, "min_video_frames": frames}
            for v in viewers:
                await v.pc.close()
            peers[1:] = []
            if kind == "ours":
                result["latency"] = latency(server.segments, video.keyframe_times)
            await pub.pc.close()
            peers.remove(pub)
            await asyncio.sleep(2.0)

            vp8 = await publish(server.base, "vp8", ReplayTrack("video", clips["vp8"], 90_000),
                                ReplayTrack("audio", clips["opus"], 48_000), "VP8")  # fmt: skip
            peers.append(vp8)
            await asyncio.sleep(WARMUP_SECONDS)
            result["vp8_publisher"] = await cpu_rate(server, args.measure) - idle
            await vp8.pc.close()
            peers.remove(vp8)

            if args.soak > 0:
                soak = await publish(server.base, "soak", ReplayTrack("video", clips["h264"], 90_000),
                                     ReplayTrack("audio", clips["opus"], 48_000), "H264")  # fmt: skip
                peers.append(soak)
                samples = []
                t0 = time.monotonic()
                while time.monotonic() - t0 < args.soak:
                    samples.append((round(time.monotonic() - t0), round(server.rss_mib(), 1)))
                    await asyncio.sleep(min(10.0, args.soak / 10))
                samples.append((round(time.monotonic() - t0), round(server.rss_mib(), 1)))
                result["rss_mib"] = samples
        finally:
            for peer in peers:
                await peer.pc.close()
    return result


def latency(segments: list[dict], keyframes: list[float]) -> dict:
    """Capture → listed for each segment's first frame (its worst-off frame). A segment starts
    at a keyframe; its capture time is the last keyframe the publisher sent before the
    server saw the segment's first frame (both clocks are CLOCK_MONOTONIC)."""
    import bisect

    values = []
    for event in (s for s in segments if s["slug"] == "h264"):
        i = bisect.bisect_right(keyframes, event["first_arrival"]) - 1
        if i >= 0:
            values.append(event["listed_at"] - keyframes[i])
    values = values[1:]  # the first segment includes ICE/DTLS setup
    if not values:
        return {}
    values.sort()
    p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
    return {"median": values[len(values) // 2], "p95": p95, "max": values[-1], "segments": len(values)}


def report(results: list[dict], args: argparse.Namespace) -> str:
    rows = ["| measure | target | ours | naive |", "|---|---|---|---|"]
    by = {r["pipeline"]: r for r in results}

    def cell(kind: str, get) -> str:
        try:
            return f"{get(by[kind]):.3f}"
        except (KeyError, TypeError, ZeroDivisionError):
            return "—"

    def row(label: str, target: str, get) -> None:
        rows.append(f"| {label} | {target} | {cell('ours', get)} | {cell('naive', get)} |")

    row("720p30 H.264 publisher, CPU-s per stream-s", "≤ 0.10", lambda r: r["h264_publisher"])
    row("720p30 VP8 publisher, CPU-s per stream-s", "≤ 0.30", lambda r: r["vp8_publisher"])
    for n in args.viewers:
        row(f"each WHEP viewer at {n}, marginal CPU-s per stream-s", "≤ 0.01",
            lambda r, n=n: r["viewers"][n]["marginal"])  # fmt: skip
    lat = by.get("ours", {}).get("latency", {})
    if lat:
        rows.append(
            f"| capture → listed, s (median / p95 / max) | ≤ 1.5 "
            f"| {lat['median']:.2f} / {lat['p95']:.2f} / {lat['max']:.2f} | — |"
        )
    rss = by.get("ours", {}).get("rss_mib")
    if rss:
        rows.append(f"| server RSS MiB over {rss[-1][0]} s (start → end) | flat | {rss[0][1]} → {rss[-1][1]} | — |")
    return "\n".join(rows)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--measure", type=float, default=20.0, help="seconds per CPU measurement")
    parser.add_argument("--soak", type=float, default=600.0, help="seconds of RSS soak (0 = skip)")
    parser.add_argument("--viewers", default="1,4,16", help="viewer counts")
    parser.add_argument("--only", choices=("ours", "naive"), help="run one pipeline")
    parser.add_argument("--bitrate", default=VIDEO_BITRATE, help="publisher video bitrate, e.g. 1000k")
    args = parser.parse_args()
    args.viewers = [int(v) for v in args.viewers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        paths = make_clips(workdir, args.bitrate)
        clips = {"h264": load_packets(paths["h264"], 90_000), "vp8": load_packets(paths["vp8"], 90_000),
                 "opus": load_packets(paths["opus"], 48_000)}  # fmt: skip
        results = []
        for kind in ("naive", "ours"):  # the soak (ours) last: CPU figures first, undisturbed
            if args.only in (None, kind):
                soak = args.soak if kind == "ours" else 0
                results.append(
                    await run_pipeline(kind, clips, argparse.Namespace(**{**vars(args), "soak": soak}), workdir)
                )
        print(json.dumps(results, indent=1, default=str))
        print(report(results, args))


if __name__ == "__main__":
    asyncio.run(main())
