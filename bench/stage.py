"""Benchmark: the stage's programme — CPU with 1, 2, 3 and 4 experts on air at 720p30, switch times, A/V sync.

    python -m bench.stage [--measure 10] [--presets superfast,veryfast] [--low-rendition on|off] [--fit]

For each x264 preset, one server process (bench/stage_server.py; CPU of all its threads from /proc):
  * 1 on air: the member is forwarded without decoding (the baseline of today's single expert);
  * 2, 3, 4 on air: each decoded once, laid out, mixed, encoded once (x264 at the preset) into the HLS;
  * switch time: from the stage change to the programme's new source (compositor's first frame, or the
    forwarded member's next keyframe), measured in the server;
  * A/V sync: publisher 1 sends a white flash and a beep at each whole second (captured together); the
    archive recording is decoded and each flash paired with its beep, in the composed parts.
Publishers live in this process and replay pre-encoded 720p30 H.264 (2.5 Mb/s, 1 s GOP) and Opus: they
never encode. Not a test: numbers vary with the machine and whatever else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription

from bench.media_ingest import CLIP_SECONDS, VIDEO_BITRATE, ReplayTrack, codecs, load_packets
from server.media.compose import (
    AUDIO_RATE,
    CHUNK_SAMPLES,
    FPS,
    PLAYOUT_DELAY_SECONDS,
    PROGRAMME_BITRATE,
    X264_OPTIONS,
    Compositor,
    Tile,
)
from server.media.stage import Layout
from server.settings import Settings

REPO = Path(__file__).resolve().parents[1]
WARMUP_SECONDS = 4.0
TICKS = __import__("os").sysconf("SC_CLK_TCK")
MAX_ON_AIR = 4
FLASH_LUMA = 128
BEEP_LEVEL = 0.2
PAIRING_WINDOW_SECONDS = 0.5


def make_clips(directory: Path) -> dict[str, Path]:
    """Publisher 1: flash + beep at each whole second; the others: testsrc2 and silence."""
    run = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
    h264 = ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "baseline", "-bf", "0", "-g", "30"]
    h264 += ["-pix_fmt", "yuv420p"]
    x264 = [*h264, "-b:v", VIDEO_BITRATE]
    opus = ["-ac", "2", "-c:a", "libopus", "-b:a", "64k"]
    d = CLIP_SECONDS
    clips = {
        "flash": directory / "flash.h264",
        "beep": directory / "beep.ogg",
        "pattern": directory / "pattern.h264",
        "pattern_small": directory / "pattern_small.h264",
        "silence": directory / "silence.ogg",
    }
    flash = "drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='lt(mod(t\\,1)\\,0.1)'"
    subprocess.run(
        [*run, "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={d}", "-vf", flash, *x264,
         str(clips["flash"])], check=True,
    )  # fmt: skip
    beep = "volume=0:enable='gte(mod(t\\,1)\\,0.1)'"
    subprocess.run(
        [*run, "-f", "lavfi", "-i", f"sine=frequency=1000:sample_rate=48000:duration={d}", "-af", beep, *opus,
         str(clips["beep"])], check=True,
    )  # fmt: skip
    subprocess.run(
        [*run, "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={d}", *x264, str(clips["pattern"])],
        check=True,
    )
    # What a browser sends while drawn as a small tile (webrtc.js `fit`: a quarter of 1280×720, ~1/8 the bits).
    small = [*h264, "-b:v", "300k"]
    subprocess.run(
        [*run, "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=30:duration={d}", *small,
         str(clips["pattern_small"])], check=True,
    )  # fmt: skip
    subprocess.run(
        [*run, "-f", "lavfi", "-i", f"anullsrc=r=48000:cl=stereo:d={d}", *opus, str(clips["silence"])], check=True
    )
    return clips


class Server:
    def __init__(self, media_dir: Path, preset: str, low_rendition: str) -> None:
        self.media_dir, self.preset, self.low_rendition = media_dir, preset, low_rendition

    async def __aenter__(self) -> Server:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.stage_server", str(self.media_dir), self.preset, self.low_rendition,
            cwd=REPO, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.base = f"http://127.0.0.1:{json.loads(await self.proc.stdout.readline())['port']}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.proc.terminate()
        await self.proc.wait()

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    async def cpu_rate(self, seconds: float) -> float:
        before, t0 = self.cpu_seconds(), time.monotonic()
        await asyncio.sleep(seconds)
        return (self.cpu_seconds() - before) / (time.monotonic() - t0)


async def publish(base: str, name: str, video: ReplayTrack, audio: ReplayTrack) -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection()
    pc.addTransceiver(video, direction="sendonly").setCodecPreferences(codecs("video", "H264"))
    pc.addTransceiver(audio, direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    headers = {"Content-Type": "application/sdp", "Authorization": f"Bearer {name}"}
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(f"{base}/whip/bench", content=pc.localDescription.sdp, headers=headers)
    r.raise_for_status()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=r.text, type="answer"))
    return pc, r.headers["location"].rsplit("/", 1)[1]


async def on_air(base: str, member: str, on: bool) -> float:
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(f"{base}/bench/bench/on_air/{member}", params={"on": "1" if on else "0"})
    r.raise_for_status()
    body = r.json()
    assert body["switched"], body
    return float(body["switch_seconds"])


def av_offsets(recording: Path) -> list[float]:
    """audio − video (s) for each flash in the composed parts (the right-hand column holds other cameras)."""
    flashes: list[float] = []
    with av.open(str(recording)) as container:
        bright = False
        pending: float | None = None
        for frame in container.decode(video=0):
            luma = frame.to_ndarray(format="gray")
            level = float(luma[:, :960:8].mean())
            t = float(frame.pts * frame.time_base)
            if pending is not None and t - pending > 0.2:  # a non-flash frame: composed or forwarded?
                if float(luma[:, 1000::8].mean()) > 30 and frame.width == 1280:
                    flashes.append(pending)
                pending = None
            if level > FLASH_LUMA and not bright:
                pending = t
            bright = level > FLASH_LUMA
    beeps: list[float] = []
    with av.open(str(recording)) as container:
        loud = False
        for frame in container.decode(audio=0):
            samples = frame.to_ndarray()[0]
            t0 = float(frame.pts * frame.time_base)
            hot = np.flatnonzero(np.abs(samples) > BEEP_LEVEL)
            if hot.size and not loud:
                beeps.append(t0 + hot[0] / frame.sample_rate)
                loud = True
            elif not hot.size and float(np.abs(samples).max(initial=0)) < 0.02:
                loud = False
    return [b - f for f in flashes for b in beeps if abs(b - f) < PAIRING_WINDOW_SECONDS]


class _Timer:
    """Process CPU time (every thread) of the spans it is running in."""

    def __init__(self) -> None:
        self.total, self._since = 0.0, 0.0

    def __enter__(self) -> None:
        self._since = time.process_time()

    def __exit__(self, *exc: object) -> None:
        self.total += time.process_time() - self._since


def psnr(picture: np.ndarray, reference: np.ndarray) -> float:
    mse = float(np.mean((picture.astype(np.float32) - reference.astype(np.float32)) ** 2))
    return 10 * np.log10(255**2 / max(mse, 1e-6))


async def compose_cost(n: int, preset: str, clips: dict[str, list], seconds: float) -> tuple[float, float]:
    """CPU-s per programme-second of the compositor's own work for `n` on air — decode each member's
    720p30 H.264 and Opus, lay out, mix, encode with x264 at `preset` and Opus — run flat out in this
    thread (its loop stopped; its steps called in order), so the figure does not depend on what else
    the machine runs (a shared, overloaded machine slows real time, not CPU per frame). Also the mean
    PSNR (luma, dB) of the encoded programme against the picture it was given, decoded outside the timing."""
    now = [0.0]  # the compositor's clock: every packet arrives as it is captured, on time
    compositor = Compositor("bench-compose", 1.0, lambda codec, data, ts: None, preset=preset, clock=lambda: now[0])
    await compositor.stop()  # its thread stopped: this thread does its steps instead
    encoded: list[bytes] = []
    compositor._output = lambda codec, data, pts: encoded.append(data) if codec == "H264" else None  # type: ignore[method-assign]
    members = [f"m{i}" for i in range(n)]
    compositor._handle("tiles", (Layout.SPEAKER, [Tile(m, label=f"Expert {m}") for m in members]))
    video, audio = clips["pattern"], clips["silence"]
    frames = int(seconds * FPS)
    chunks_per_frame = AUDIO_RATE / CHUNK_SAMPLES / FPS
    timer, check = _Timer(), av.CodecContext.create("h264", "r")
    check.thread_count = 1  # frame threads would hand back an older picture than the one just encoded
    quality: list[float] = []
    audio_n = 0
    for i in range(frames):
        with timer:
            now[0] = i / FPS
            for m in members:
                compositor._handle("frame", (m, "H264", video[i % len(video)][0], i / FPS))
            while audio_n < (i + 1) * chunks_per_frame:
                at = audio_n * CHUNK_SAMPLES / AUDIO_RATE
                for m in members:
                    compositor._handle("frame", (m, "opus", audio[audio_n % len(audio)][0], at))
                compositor._audio(audio_n, at + PLAYOUT_DELAY_SECONDS)
                audio_n += 1
            compositor._video(i, i % FPS == 0, i / FPS + PLAYOUT_DELAY_SECONDS)
        for data in encoded:
            for picture in check.decode(av.Packet(data)):
                if i % 5 == 0:
                    quality.append(psnr(picture.to_ndarray()[: compositor._y.shape[0]], compositor._y))  # luma as coded
        encoded.clear()
    return timer.total / seconds, float(np.mean(quality))


def transcode_cost(preset: str, clips: dict[str, list], seconds: float) -> float:
    """The baseline, in the same run: one 720p30 H.264 stream decoded and encoded again at the same
    size with the compositor's x264 settings (what one member would cost if the programme were
    re-encoded instead of forwarded), CPU-s per second."""
    decoder = av.CodecContext.create("h264", "r")
    decoder.thread_count = 1  # as the compositor's decoders
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 1280, 720, "yuv420p"
    encoder.time_base, encoder.framerate, encoder.bit_rate = Fraction(1, 90_000), Fraction(FPS), PROGRAMME_BITRATE
    encoder.options = {**X264_OPTIONS, "preset": preset}
    encoder.open()
    video = clips["pattern"]
    timer = _Timer()
    with timer:
        for i in range(int(seconds * FPS)):
            for frame in decoder.decode(av.Packet(video[i % len(video)][0])):
                frame.pts, frame.time_base = i * 3000, Fraction(1, 90_000)
                frame.pict_type = av.video.frame.PictureType.I if i % FPS == 0 else av.video.frame.PictureType.NONE
                encoder.encode(frame)
    return timer.total / seconds


def load_average() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


async def run_preset(preset: str, clips: dict[str, list], args: argparse.Namespace, workdir: Path) -> dict:
    media_dir = workdir / preset
    result: dict = {"preset": preset, "cpu": {}, "switch": {}, "compose": {}, "psnr": {}, "loads": []}
    # Interleaved repeats (baseline, 2, 3, 4, baseline, ...), the median of each: the machine's other
    # work comes and goes, and each figure meets the same share of it.
    runs: dict[object, list[float]] = {}
    result["loads"].append(load_average())
    for _ in range(args.repeats):
        runs.setdefault("baseline", []).append(transcode_cost(preset, clips, args.compose_seconds))
        for n in range(2, MAX_ON_AIR + 1):
            cost, quality = await compose_cost(n, preset, clips, args.compose_seconds)
            runs.setdefault(n, []).append(cost)
            result["psnr"][n] = quality
    result["loads"].append(load_average())
    result["baseline"] = statistics.median(runs["baseline"])
    for n in range(2, MAX_ON_AIR + 1):
        result["compose"][n] = statistics.median(runs[n])
        print(
            f"  {preset}: composing {n}: {result['compose'][n]:.3f} CPU-s per programme-second"
            f" ({result['compose'][n] / result['baseline']:.2f}× one 720p transcode, {result['baseline']:.3f};"
            f" PSNR {result['psnr'][n]:.1f} dB; runs {[round(x, 3) for x in runs[n]]})",
            file=sys.stderr,
        )
    if args.compose_only:
        return result
    result["loads"].append(load_average())
    result["low_rendition"] = args.low_rendition
    result["fit"] = args.fit
    async with Server(media_dir, preset, args.low_rendition) as server:
        idle = await server.cpu_rate(2.0)
        result["idle"] = idle
        peers: list[tuple[RTCPeerConnection, str]] = []
        for n in range(1, MAX_ON_AIR + 1):
            # --fit: members 2-4, small tiles beside the speaker, send what a studio page then sends.
            video = clips["flash"] if n == 1 else clips["pattern_small" if args.fit else "pattern"]
            audio = clips["beep"] if n == 1 else clips["silence"]
            pc, member = await publish(
                server.base, f"bench-{n}", ReplayTrack("video", video, 90_000), ReplayTrack("audio", audio, 48_000)
            )
            peers.append((pc, member))
            if n > 1:
                await asyncio.sleep(1.0)  # connected and sending before it goes on air
                result["switch"][f"{n - 1}→{n}"] = await on_air(server.base, member, True)
            await asyncio.sleep(WARMUP_SECONDS)
            result["cpu"][n] = await server.cpu_rate(args.measure) - idle
            ratio = result["cpu"][n] / result["cpu"][1]
            print(f"  {preset}: {n} on air: {result['cpu'][n]:.3f} CPU-s/s ({ratio:.2f}× 1 on air)", file=sys.stderr)
        for n in range(MAX_ON_AIR, 1, -1):
            result["switch"][f"{n}→{n - 1}"] = await on_air(server.base, peers[n - 1][1], False)
            await asyncio.sleep(1.5)
        async with httpx.AsyncClient(timeout=60) as http:
            (await http.post(f"{server.base}/bench/bench/end")).raise_for_status()
        for pc, _ in peers:
            await pc.close()
    result["loads"].append(load_average())
    offsets = av_offsets(media_dir / "bench" / "index.m3u8")
    result["av_offsets"] = offsets
    return result


def report(results: list[dict]) -> str:
    lines = [
        "Compositor (decode n × 720p30 + layout + mix + one encode), CPU-s per programme-second, and as a ratio",
        "to one 720p30 decode + encode at the same preset measured in the same run (the baseline):",
        "",
        "| preset | baseline | 2 on air | 3 on air | 4 on air | PSNR 2/3/4 | load average (start, end) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        base = r["baseline"]
        cells = " | ".join(f"{r['compose'][n]:.3f} ({r['compose'][n] / base:.2f}×)" for n in range(2, 5))
        quality = "/".join(f"{r['psnr'][n]:.1f}" for n in range(2, 5))
        lines.append(f"| {r['preset']} | {base:.3f} | {cells} | {quality} dB | {r['loads'][0]}; {r['loads'][1]} |")
    live = [r for r in results if r["cpu"]]
    if not live:
        return "\n".join(lines)
    lines += ["", "Live server (WebRTC ingest of every member + the above + HLS), CPU-s per second (× 1 on air):", ""]
    lines.append("| preset | 360p | 1 on air (forwarded) | 2 | 3 | 4 | switches | A/V (audio − video) | load average |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for r in live:
        one = r["cpu"][1]
        cpu = " | ".join(
            f"{r['cpu'][n]:.3f}" + ("" if n == 1 else f" ({r['cpu'][n] / one:.1f}×)") for n in range(1, MAX_ON_AIR + 1)
        )
        offsets = r["av_offsets"]
        sync = (
            f"median {statistics.median(offsets) * 1000:+.0f} ms, max |{max(abs(o) for o in offsets) * 1000:.0f}| ms"
            f" ({len(offsets)} marks)"
            if offsets
            else "no marks"
        )
        switches = ", ".join(f"{k} {v:.2f} s" for k, v in r["switch"].items())
        loads = f"{r['loads'][-2]}; {r['loads'][-1]}"
        preset = r["preset"] + (" (--fit)" if r.get("fit") else "")
        lines.append(f"| {preset} | {r['low_rendition']} | {cpu} | {switches} | {sync} | {loads} |")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--measure", type=float, default=10.0, help="seconds of CPU measured per step")
    parser.add_argument("--presets", default="superfast,veryfast", help="x264 presets to compare")
    parser.add_argument("--json", type=Path, help="also write every number here")
    parser.add_argument("--compose-seconds", type=float, default=10.0, help="programme seconds composed flat out")
    parser.add_argument("--compose-only", action="store_true", help="skip the live run (server, WebRTC)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats of the compose cost (median)")
    parser.add_argument(
        "--fit",
        action="store_true",
        help="members 2-4 (small tiles in the speaker layout) send 320x180, as a studio page then does",
    )
    parser.add_argument(
        "--low-rendition",
        choices=["on", "off"],
        default="on" if Settings().low_rendition else "off",
        help="the live server's 360p rendition (LOW_RENDITION; on by default, as the product serves)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        paths = make_clips(workdir)
        clips = {
            "flash": load_packets(paths["flash"], 90_000),
            "pattern": load_packets(paths["pattern"], 90_000),
            "pattern_small": load_packets(paths["pattern_small"], 90_000),
            "beep": load_packets(paths["beep"], 48_000),
            "silence": load_packets(paths["silence"], 48_000),
        }
        results = [await run_preset(p, clips, args, workdir) for p in args.presets.split(",")]
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    asyncio.run(main())
