"""HLS serving at scale: Sitecast's live routes against nginx serving the same directory, in one run.

    .venv/bin/python bench/hls_serve.py                       # N = 100, 500, 1000; 8 s each
    .venv/bin/python bench/hls_serve.py --viewers 100 --seconds 5

A 720p30 H.264 stream at ~2.7 Mb/s (made once by ffmpeg) is replayed in real time into a real `Feed` of
a `MediaService` in a separate process (the origin: served as `make run` serves it, uvicorn with uvloop and
the raw HTTP path of server/media/rawhttp.py in front of the ASGI fast path and media_routes, the live edge in
memory; `--serve asgi` leaves the raw path out, `--serve app` the fast paths too), which writes segments,
parts and playlists into MEDIA_DIR as during an event. nginx (one worker, sendfile) serves
that same directory. Then N simulated players fetch from each in turn as hls.js does with regular HLS: the
playlist every target duration, each new segment once, over keep-alive connections. Printed per server and
N: segments fetched, segment time p50/p99 (request written → last byte read), throughput, the server's CPU
seconds spent serving (from /proc, its process only, less what it spends with no viewer: Sitecast's
origin also writes the stream) and CPU per GB delivered, and Sitecast's CPU/GB over nginx's.

`--ll` makes the Sitecast players follow the parts instead (blocking reloads, hinted parts; nginx has no
equivalent, so it still serves segments). The load client is this process (uvloop, each body counted where
it lands, never copied); on a small machine it competes with the servers for CPU, and on a busy one every
process waits for a core: latencies are the machine's as much as the servers', so each N prints the load
average, and the CPU per GB of each server is the figure to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvloop

ROOT = Path(__file__).resolve().parents[1]
SLUG = "ev"
BITRATE = "2700k"
TICKS = os.sysconf("SC_CLK_TCK")
SEGMENT_LINE = re.compile(r"^(\d{6})\.ts$", re.M)
# The first seconds of a run, while the players arrive: "p99 ms*" leaves them out.
ARRIVAL_SECONDS = 2.0
HINT = re.compile(r'PRELOAD-HINT:TYPE=PART,URI="(\d{6})\.(\d+)\.ts"')


# -- origin (child process) ------------------------------------------------------------------------


def origin(media_dir: Path, h264: Path, serve: str) -> None:
    import av
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request

    from server.heap import HeapSteward
    from server.media.fastpath import LiveFastPath
    from server.media.feed import Feed
    from server.media.rawhttp import LiveHttpProtocol
    from server.media.routes import media_routes
    from server.media.service import MediaService

    with av.open(str(h264)) as container:
        frames = [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]
    service = MediaService(media_dir, segment_seconds=1.0)

    async def allow(request: Request, slug: str, mode: str) -> None:
        return None

    async def replay() -> None:
        event = service._event(SLUG)  # a bench shortcut: frames go in as a publisher's would, minus WebRTC
        feed = Feed(f"{SLUG}-camera", service.feed_dir(SLUG), 1.0)
        event.feeds["camera"] = feed
        feed.claim("bench")
        feed.expect_audio(False)
        loop = asyncio.get_running_loop()
        start = loop.time()
        n = 0
        while True:
            feed.on_frame("H264", frames[n % len(frames)], n * 3000)
            n += 1
            await asyncio.sleep(max(0.0, start + n / 30 - loop.time()))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        heap = HeapSteward()  # as the app's lifespan: no full GC walk of every connection, again and again
        await heap.start()
        await service.start()
        task = asyncio.create_task(replay())
        yield
        task.cancel()
        await service.close()
        await heap.close()

    app = Starlette(routes=media_routes(service, allow), lifespan=lifespan)
    # raw: as `make run` serves (the protocol answers live GETs itself, LiveFastPath behind it);
    # asgi: uvicorn's own protocol and LiveFastPath in front of the routes; app: the routes alone.
    served = app if serve == "app" else LiveFastPath(app, service)
    protocol = {"http": LiveHttpProtocol} if serve == "raw" else {}
    config = uvicorn.Config(
        served, host="127.0.0.1", port=0, log_level="warning", access_log=False, ws="none", **protocol
    )
    server = uvicorn.Server(config)

    async def main() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event for it)
            await asyncio.sleep(0.05)
        print(json.dumps({"port": server.servers[0].sockets[0].getsockname()[1]}), flush=True)
        await task

    # As `make run` serves: uvicorn.run picks uvloop, and the app's lifespan shortens the GIL switch interval.
    sys.setswitchinterval(0.001)
    uvloop.run(main())


# -- load client -------------------------------------------------------------------------------------


@dataclass
class Tally:
    segment_seconds: list[float] = field(default_factory=list)
    began: list[float] = field(default_factory=list)  # when each of those requests was written (loop time)
    bytes: int = 0
    requests: int = 0
    errors: int = 0
    kinds: Counter[str] = field(default_factory=Counter)


# One receive buffer for every connection: uvloop fills it and calls `buffer_updated` at once, so bodies are
# counted where they land, never copied or kept (playlists excepted).
_BUFFER = bytearray(1 << 20)
_VIEW = memoryview(_BUFFER)
_LENGTH = re.compile(rb"(?i)\r\ncontent-length:\s*(\d+)")


class Connection(asyncio.BufferedProtocol):
    """A keep-alive HTTP/1.1 client connection as cheap as Python gets: the load client must not be the
    bottleneck it was (StreamReader copies every body two or three times)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.transport: asyncio.Transport | None = None
        self.future: asyncio.Future[tuple[int, bytes, int]] | None = None
        self.head = bytearray()
        self.body = bytearray()
        self.keep = False
        self.status = 0
        self.remaining = -1  # body bytes still to come; -1: reading a head
        self.received = 0

    async def get(self, path: str, keep: bool = False) -> tuple[int, bytes, int]:
        """(status, body if `keep` else b"", body length)."""
        loop = asyncio.get_running_loop()
        if self.transport is None or self.transport.is_closing():
            await loop.create_connection(lambda: self, "127.0.0.1", self.port)
        assert self.transport is not None
        self.future = loop.create_future()
        self.keep, self.body, self.received = keep, bytearray(), 0
        self.transport.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        return await self.future

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.future is not None and not self.future.done():
            self.future.set_exception(asyncio.IncompleteReadError(b"", None))

    def get_buffer(self, sizehint: int) -> memoryview:
        return _VIEW

    def buffer_updated(self, nbytes: int) -> None:
        view = _VIEW[:nbytes]
        while len(view):
            if self.remaining < 0:
                probe = self.head + view[:8192]
                end = probe.find(b"\r\n\r\n")
                if end < 0:
                    self.head, view = probe, view[8192:]
                    continue
                used = end + 4 - len(self.head)
                head, self.head, view = bytes(probe[:end]), bytearray(), view[used:]
                self.status = int(head[9:12])
                match = _LENGTH.search(head)
                self.remaining = int(match.group(1)) if match else 0
            else:
                take = min(self.remaining, len(view))
                if self.keep:
                    self.body += view[:take]
                self.remaining -= take
                self.received += take
                view = view[take:]
            if self.remaining == 0:
                self.remaining = -1
                if self.future is not None and not self.future.done():
                    self.future.set_result((self.status, bytes(self.body), self.received))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def player(port: int, until: float, tally: Tally, ll: bool, delay: float) -> None:
    """Regular hls.js: the playlist every target duration, each new segment once (from 3 back)."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(delay)
    playlists, media = Connection(port), Connection(port)
    base = f"/live/{SLUG}"
    seen = -1
    try:
        status, body, _ = await playlists.get(f"{base}/index.m3u8", keep=True)
        tally.requests += 1
        while loop.time() < until:
            text = body.decode()
            if ll and (hint := HINT.search(text)):
                msn, part = int(hint.group(1)), int(hint.group(2))
                began = loop.time()
                _, _, size = await media.get(f"{base}/{msn:06d}.{part}.ts")
                tally.segment_seconds.append(loop.time() - began)
                tally.began.append(began)
                tally.bytes += size
                reload = f"{base}/index.m3u8?_HLS_msn={msn}&_HLS_part={part}"
                status, body, _ = await playlists.get(reload, keep=True)
                tally.requests += 2
                continue
            names = [int(s) for s in SEGMENT_LINE.findall(text)]
            if seen < 0 and names:
                seen = names[max(0, len(names) - 4)]
            for sequence in (s for s in names if s > seen):
                began = loop.time()
                status, _, size = await media.get(f"{base}/{sequence:06d}.ts")
                tally.requests += 1
                if status != 200:
                    tally.errors += 1
                    tally.kinds[f"HTTP {status}"] += 1
                    continue
                tally.segment_seconds.append(loop.time() - began)
                tally.began.append(began)
                tally.bytes += size
                seen = sequence
            await asyncio.sleep(1.0)
            status, body, _ = await playlists.get(f"{base}/index.m3u8", keep=True)
            tally.requests += 1
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        tally.errors += 1
        tally.kinds[type(exc).__name__] += 1
    finally:
        playlists.close()
        media.close()


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


async def idle_cpu_rate(pids: list[int], seconds: float = 2.0) -> float:
    """CPU seconds per second the server spends with no viewer (Sitecast: writing the stream itself)."""
    cpu0, t0 = cpu_seconds(pids), time.monotonic()
    await asyncio.sleep(seconds)
    return (cpu_seconds(pids) - cpu0) / (time.monotonic() - t0)


async def measure(port: int, pids: list[int], viewers: int, seconds: float, ll: bool) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    tally = Tally()
    idle = await idle_cpu_rate(pids)
    start = loop.time()
    until = start + seconds + 1.0
    cpu0, t0 = cpu_seconds(pids), time.monotonic()
    await asyncio.gather(*(player(port, until, tally, ll, k / viewers) for k in range(viewers)))
    wall = time.monotonic() - t0
    cpu = max(0.0, cpu_seconds(pids) - cpu0 - idle * wall)  # serving only
    times = sorted(tally.segment_seconds) or [float("nan")]
    # Without the audience's arrival (players start over the first second, each opening two connections).
    settled = sorted(
        t for t, at in zip(tally.segment_seconds, tally.began, strict=True) if at >= start + ARRIVAL_SECONDS
    )
    settled = settled or [float("nan")]
    gigabytes = tally.bytes / 1e9
    return {
        "viewers": viewers,
        "fetched": len(tally.segment_seconds),
        "errors": tally.errors,
        "p50_ms": 1000 * statistics.median(times),
        "p99_ms": 1000 * times[min(len(times) - 1, int(0.99 * len(times)))],
        "p99_settled_ms": 1000 * settled[min(len(settled) - 1, int(0.99 * len(settled)))],
        "mb_per_s": tally.bytes / 1e6 / wall,
        "cpu_s": cpu,
        "cpu_per_gb": cpu / gigabytes if gigabytes else float("nan"),
        "error_kinds": dict(tally.kinds),
    }


# -- nginx ---------------------------------------------------------------------------------------------


def start_nginx(work: Path, media_dir: Path, port: int) -> subprocess.Popen[bytes]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    temp = " ".join(f"{kind}_temp_path {work / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    feed = media_dir / SLUG
    conf = work / "nginx.conf"
    conf.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes 1;\npid {work / 'nginx.pid'};\nerror_log {work / 'error.log'} warn;\n"
        + "worker_rlimit_nofile 20000;\nevents { worker_connections 8192; }\n"
        + f"http {{ access_log off; {temp} sendfile on; tcp_nopush on; keepalive_requests 1000000;\n"
        + "  keepalive_timeout 60s; types { video/mp2t ts; } default_type application/vnd.apple.mpegurl;\n"
        + f"  server {{ listen 127.0.0.1:{port} backlog=4096;\n"
        + f"    location = /live/{SLUG}/index.m3u8 {{ alias {feed / 'live.m3u8'};"
        + " add_header Cache-Control no-cache; }\n"
        + f"    location /live/{SLUG}/ {{ alias {feed}/; }}\n  }}\n}}\n"
    )
    return subprocess.Popen([nginx, "-p", str(work), "-c", str(conf), "-g", "daemon off;"])


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.is_file() else []


# -- main ---------------------------------------------------------------------------------------------


def make_stream(work: Path) -> Path:
    h264 = work / "stream.h264"
    source = "testsrc2=size=1280x720:rate=30:duration=10"
    encode = ["-c:v", "libx264", "-preset", "veryfast", "-b:v", BITRATE, "-maxrate", BITRATE, "-bufsize", "2700k"]
    gop = ["-g", "30", "-keyint_min", "30", "-sc_threshold", "0", "-bf", "0", "-f", "h264"]
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", source, *encode, *gop, str(h264)],
        check=True,
        timeout=300,
    )
    return h264


async def run(args: argparse.Namespace) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 20000)), hard))
    work = Path(tempfile.mkdtemp(prefix="hls-serve-"))
    media_dir = work / "media"
    print(f"encoding a 720p30 {BITRATE}b/s test stream …", flush=True)
    h264 = make_stream(work)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--origin",
        str(media_dir),
        str(h264),
        args.serve,
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    assert child.stdout is not None
    port = json.loads(await asyncio.wait_for(child.stdout.readline(), 60))["port"]
    nginx_port = int(args.nginx_port)
    nginx_work = work / "nginx"
    nginx_work.mkdir()
    nginx = start_nginx(nginx_work, media_dir, nginx_port)
    try:
        live = media_dir / SLUG / "live.m3u8"
        deadline = time.monotonic() + 30
        while not (live.is_file() and live.read_text().count("#EXTINF") >= 4):
            if time.monotonic() > deadline:
                raise SystemExit("the origin wrote no segments")
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)
        workers = children(nginx.pid)
        rows = []
        for viewers in args.viewers:
            ours = await measure(port, [child.pid], viewers, args.seconds, args.ll)
            theirs = await measure(nginx_port, [nginx.pid, *workers], viewers, args.seconds, False)
            load = Path("/proc/loadavg").read_text().split()[:3]
            ours["load"] = theirs["load"] = " ".join(load)
            rows.append((ours, theirs))
            print(f"\nN = {viewers}   (Sitecast serving: {args.serve}; load average {' '.join(load)})")
            heads = ("segments", "errors", "p50 ms", "p99 ms", "p99 ms*", "MB/s", "CPU s", "CPU s/GB")
            print(f"{'server':10} " + " ".join(f"{h:>9}" for h in heads))
            for name, row in (("sitecast", ours), ("nginx", theirs)):
                print(
                    f"{name:10} {row['fetched']:9.0f} {row['errors']:7.0f} {row['p50_ms']:8.1f} {row['p99_ms']:8.1f}"
                    f" {row['p99_settled_ms']:8.1f} {row['mb_per_s']:7.1f} {row['cpu_s']:7.2f} {row['cpu_per_gb']:9.2f}"
                )
            for name, row in (("sitecast", ours), ("nginx", theirs)):
                if row["error_kinds"]:
                    print(f"{name} errors: {row['error_kinds']}")
            print(f"CPU per GB, sitecast / nginx: {ours['cpu_per_gb'] / theirs['cpu_per_gb']:.2f}x", flush=True)
            print(f"(p99 ms*: requests written after the first {ARRIVAL_SECONDS:.0f} s, the audience arrived)")
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=2))
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        child.terminate()
        await asyncio.wait_for(child.wait(), 15)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--origin":
        sys.path.insert(0, str(ROOT))
        origin(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--seconds", type=float, default=8.0, help="measured load per server and N")
    parser.add_argument("--ll", action="store_true", help="Sitecast's players follow the parts (LL-HLS)")
    parser.add_argument("--nginx-port", default="18931")
    parser.add_argument(
        "--serve",
        choices=("raw", "asgi", "app"),
        default="raw",
        help="Sitecast's serving: raw HTTP path (as `make run`), ASGI fast path only, or the routes alone",
    )
    parser.add_argument("--json", help="also write every number here")
    uvloop.run(run(parser.parse_args()))  # the load client on uvloop too: it must not be the bottleneck


if __name__ == "__main__":
    main()
