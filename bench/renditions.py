"""Benchmark: the 360p rendition's CPU per stream-second, against the full rendition's muxing in one run.

    python -m bench.renditions [--seconds 10] [--repeat 3] [--preset superfast]

A 720p30 camera (ffmpeg's testsrc2 with moving noise, x264 baseline at 2.5 Mb/s, a keyframe a second,
as a browser publishes when asked) is fed to the server's writers the way the feed does, and the CPU
time of the thread doing each job is read from inside it (`time.thread_time`, so other processes on
the shared machine do not count, only their contention):
  * baseline: the full rendition as forwarded (HlsWriter: TS muxing, parts, playlists; no decode);
  * forward: the low rendition of a forwarded camera (decode without deblocking, scale, x264 360p30,
    its own TS muxing, parts and playlists);
  * compose: the low rendition of a composed programme (the 720p pictures are handed over: scale, x264).
Goal (issue 13): ≤ 0.08 CPU-s per stream-second at 360p30. Not a test: the figure moves with the load.

Then DVR's cost: the full rendition's writer resumed two hours into an event (7,200 one-second segments, so its
EVENT playlist and delta update are as long as they get) against one 10 segments in, the same packets into each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av

from server.media import rendition
from server.media.hls import SEGMENT_LOG, HlsWriter, LiveUpdate
from server.media.rendition import LowRendition

FPS = 30
SOURCE = "testsrc2=size=1280x720:rate=30,noise=alls=12:allf=t+u"


def camera(seconds: float) -> tuple[list[tuple[bytes, float, bool]], list[av.VideoFrame]]:
    """The camera's H.264 packets (recording seconds, keyframe) and the pictures they were made from."""
    source = av.open(SOURCE.split(",")[0], format="lavfi", options={})
    graph = av.filter.Graph()
    stream = source.streams.video[0]
    src = graph.add_buffer(template=stream)
    noise = graph.add("noise", "alls=12:allf=t+u")
    sink = graph.add("buffersink")
    src.link_to(noise)
    noise.link_to(sink)
    graph.configure()
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = 1280, 720, "yuv420p"
    enc.time_base = Fraction(1, FPS)
    enc.framerate = Fraction(FPS)
    enc.bit_rate = 2_500_000
    enc.options = {"preset": "veryfast", "tune": "zerolatency", "profile": "baseline", "g": str(FPS), "bf": "0"}
    packets: list[tuple[bytes, float, bool]] = []
    pictures: list[av.VideoFrame] = []
    for n, frame in enumerate(source.decode(stream)):
        if n >= seconds * FPS:
            break
        graph.push(frame)
        filtered = graph.pull().reformat(format="yuv420p")
        filtered.pts = n
        pictures.append(filtered)
        packets += [(bytes(p), p.pts / FPS, p.is_keyframe) for p in enc.encode(filtered)]
    source.close()
    return packets, pictures


async def on_thread(low: LowRendition) -> float:
    return await low._worker.call(time.thread_time)  # the rendition's own thread


async def measure(packets: list[tuple[bytes, float, bool]], pictures: list[av.VideoFrame], seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        # Baseline: the full rendition's writer, as the feed's writer thread runs it (here: this thread).
        writer = HlsWriter(base / "full", 1.0)
        started = time.thread_time()
        for data, when, key in packets:
            writer.write_video(data, when, key)
        writer.finish(remux=False)
        full = time.thread_time() - started

        results = {"baseline": full / seconds}
        for mode in ("forward", "compose"):
            low = LowRendition("bench", base / mode, 1.0)
            begin = await on_thread(low)
            for (data, when, key), picture in zip(packets, pictures, strict=False):
                if mode == "forward":
                    low.video(data, when, key, None)
                else:
                    low.picture(picture, when, key)
                if low.backlog > 20:  # paced: a backlog would skip
                    await asyncio.sleep(0.01)
            end = await on_thread(low)
            assert low.skipped == 0 and low.size == (640, 360), (low.skipped, low.size)
            await low.finish()
            results[mode] = (end - begin) / seconds
    return results


def playlist_cost(packets: list[tuple[bytes, float, bool]], segments: int) -> tuple[float, int, int]:
    """Writer CPU per stream-second with `segments` already listed; the full playlist's and the delta's bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        with (directory / SEGMENT_LOG).open("w") as log:
            for n in range(segments):
                (directory / f"{n:06d}.ts").touch()
                log.write(f"{n} {n:.6f} 1.000000 0 {n:06d}.ts {1.8e9 + n:.3f}\n")
        updates: list[LiveUpdate] = []
        writer = HlsWriter(directory, 1.0, on_live=updates.append)
        offset = writer.end + 0.1
        started = time.thread_time()
        for data, when, key in packets:
            writer.write_video(data, when + offset, key)
        spent = time.thread_time() - started
        return spent / (len(packets) / FPS), len(updates[-1].playlist), len(updates[-1].delta)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--preset", default=rendition.LOW_PRESET)
    parser.add_argument("--x264-extra", default=rendition.LOW_X264_EXTRA, help="extra x264-params ('' for none)")
    args = parser.parse_args()
    rendition.LOW_PRESET = args.preset
    rendition.LOW_X264_EXTRA = args.x264_extra
    packets, pictures = camera(args.seconds)
    seconds = len(pictures) / FPS
    runs = [await measure(packets, pictures, seconds) for _ in range(args.repeat)]
    load = os.getloadavg()
    extra = f" +{args.x264_extra}" if args.x264_extra else ""
    print(f"360p rendition, x264 {args.preset}{extra}, {seconds:.0f} s of 720p30 x {args.repeat} runs")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores shared)")
    print(f"{'path':<10} {'CPU-s per stream-s (median, min-max)':<38} {'vs full rendition muxing':>24}")
    base = statistics.median(r["baseline"] for r in runs)
    for key in ("baseline", "forward", "compose"):
        values = [r[key] for r in runs]
        median = statistics.median(values)
        spread = f"{median:.3f} ({min(values):.3f}-{max(values):.3f})"
        print(f"{key:<10} {spread:<38} {median / base:>23.1f}x")
    print("goal: <= 0.080 CPU-s per stream-second at 360p30")
    short = statistics.median(playlist_cost(packets, 10)[0] for _ in range(args.repeat))
    long_runs = [playlist_cost(packets, 7200) for _ in range(args.repeat)]
    long_ = statistics.median(r[0] for r in long_runs)
    print(
        f"DVR: full rendition's writer 2 h in {long_:.4f} CPU-s/s vs 10 segments in {short:.4f} ({long_ / short:.2f}x);"
        f" playlist {long_runs[-1][1]} B, delta update {long_runs[-1][2]} B"
    )


if __name__ == "__main__":
    asyncio.run(main())
