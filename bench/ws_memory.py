"""What an open WebSocket viewer costs Sitecast in memory, by allocation site (tracemalloc).

Serves the app in this process (a fresh SQLite file, one event), connects `--viewers` anonymous viewers
from a client subprocess (so its objects are not traced), waits until every one has its snapshot, and
prints the Python heap grown per connection and the largest allocation sites, beside the RSS grown per
connection. The RSS figure includes tracemalloc's own bookkeeping: use it for before/after ratios in one
run, and `bench/ws_fanout.py` for the figure against Node.

    .venv/bin/python bench/ws_memory.py --viewers 1000
    .venv/bin/python bench/ws_memory.py --viewers 2000 --cpu 4   # server CPU per connect, 4 rounds
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.db.migrate import upgrade
from tests.support import ADMIN_TOKEN, live_server

CLIENT = r"""
import asyncio, json, sys
import websockets

async def one(url, ready):
    ws = await websockets.connect(url, max_size=2**24)
    await ws.send('{"type":"hello","last_id":null}')
    while json.loads(await ws.recv())["type"] != "snapshot":
        pass
    ready.append(ws)

async def run(url, n):
    ready = []
    for start in range(0, n, 100):
        await asyncio.gather(*(one(url, ready) for _ in range(start, min(n, start + 100))))
    print("ready", len(ready), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(run(sys.argv[1], int(sys.argv[2])))
"""


def rss_kib() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


async def connect(url: str, n: int) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENT, url, str(n), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 300)).decode()
    assert line.startswith("ready"), line
    return proc


async def done(proc: asyncio.subprocess.Process) -> None:
    await asyncio.wait_for(proc.communicate(b""), 60)


async def measure(viewers: int, top: int, profile: bool, rounds: int = 0) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/sitecast.db"
        upgrade(url)
        async with live_server(database_url=url, media_dir=Path(tmp) / "media") as server:
            async with httpx.AsyncClient(base_url=server.base_url) as client:
                made = await client.post(
                    "/api/v1/events",
                    json={"slug": "mem", "title_zh": "内存", "topics": ["基坑"]},
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                )
                assert made.status_code == 201, made.text
            ws_url = f"{server.ws_url}/api/v1/events/mem/ws"
            await done(await connect(ws_url, 50))  # first-use caches, imports, pools
            gc.collect()
            if rounds:
                # This process's CPU per connect (the clients run in a subprocess), and the wall time, per round.
                for _ in range(rounds):
                    gc.collect()
                    cpu, wall = time.process_time(), time.monotonic()
                    proc = await connect(ws_url, viewers)
                    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
                    print(
                        f"{viewers} connects: {cpu / viewers * 1e3:.3f} ms of server CPU each, {wall:.1f} s wall; "
                        f"load average {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
                    await done(proc)
                return
            if profile:
                profiler = cProfile.Profile()
                profiler.enable()
                await done(await connect(ws_url, viewers))
                profiler.disable()
                print(f"where the server's time went while {viewers} viewers connected (cProfile, top {top}):")
                pstats.Stats(profiler).sort_stats("tottime").print_stats(top)
                return
            tracemalloc.start(8)
            before, rss_before = tracemalloc.take_snapshot(), rss_kib()
            started = time.monotonic()
            proc = await connect(ws_url, viewers)
            took = time.monotonic() - started
            gc.collect()
            after, rss_after = tracemalloc.take_snapshot(), rss_kib()
            traced = sum(s.size_diff for s in after.compare_to(before, "filename"))
            print(f"{viewers} viewers connected in {took:.1f} s; load average {os.getloadavg()[0]:.1f}")
            print(f"Python heap per connection (tracemalloc): {traced / viewers / 1024:.1f} KiB")
            print(f"RSS per connection (with tracemalloc's overhead): {(rss_after - rss_before) / viewers:.1f} KiB")
            print(f"\nlargest allocation sites, bytes per connection (top {top}):")
            for stat in after.compare_to(before, "lineno")[:top]:
                frame = stat.traceback[0]
                where = f"{Path(frame.filename).parent.name}/{Path(frame.filename).name}:{frame.lineno}"
                print(f"  {stat.size_diff / viewers:8.0f}  {stat.count_diff / viewers:5.1f} blocks  {where}")
            tracemalloc.stop()
            await done(proc)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--profile", action="store_true", help="cProfile the connects instead of tracemalloc")
    parser.add_argument("--cpu", type=int, default=0, metavar="ROUNDS", help="server CPU per connect, N rounds")
    args = parser.parse_args()
    asyncio.run(measure(args.viewers, args.top, args.profile, args.cpu))
