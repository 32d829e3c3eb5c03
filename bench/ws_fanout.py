"""WebSocket fan-out: Sitecast against a minimal Node `ws` broadcast server, same load, same client.

    .venv/bin/python bench/ws_fanout.py                          # 5,000 viewers, 20 s, 10 approvals/s
    .venv/bin/python bench/ws_fanout.py --viewers 500 --seconds 5   # smoke run

One run measures both servers in turn (Sitecast first, then the baseline, bench/node/server.js), each with:
- N viewers connected through the same load client (bench/node/client.js, `ws`, in --workers processes),
  each sending hello and then counting every frame and checking the per-channel ids for gaps;
- a moderator approving --rate pending questions per second (baseline: --rate POST /broadcast of a frame
  of the same size, copied from Sitecast's own question.approved frame);
- a vote storm: --votes PUT votes per second from joined viewers (baseline: the coalesced result, a small
  question.votes frame 4 times a second, again copied from Sitecast's).
Reported per server: latency from the approve command (or broadcast POST) being sent to the LAST viewer
receiving the frame, lost receipts, server CPU-seconds per 1,000 deliveries (from /proc/<pid>/stat over the
measured window) and RSS per connection. Everything listens on 127.0.0.1. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from server.questions.votes import flush_interval

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "bench" / "node"
CLK_TCK = os.sysconf("SC_CLK_TCK")
ADMIN_TOKEN = "bench"


def coalesced_vote_frames_per_s(viewers: int) -> float:
    """Sitecast's votes frames a second for an audience (server/questions/votes.py), which the baseline sends."""
    return 1.0 / flush_interval(viewers)


MAX_INFLIGHT = 256  # commands in flight before the driver starts skipping (reported as "skipped")
# A few hundred common characters of construction Q&A; random runs of them never look like duplicates.
CJK = (
    "基坑开挖支护结构地下连续墙钢筋混凝土浇筑养护模板脚手架塔吊施工升降机安全质量监督验收检测沉降位移"
    "变形监测预警隧道盾构管片注浆防水渗漏裂缝桩基承载力试验静载荷动测地基处理回填压实度路面沥青桥梁"
    "预应力张拉锚具波纹管灌浆钢结构焊缝高强螺栓防腐涂装幕墙玻璃石材门窗节能保温外墙屋面排水消防喷淋"
    "电气接地防雷给水管道试压通风空调电梯安装调试资料归档旁站见证取样复试报告整改闭合建设单位设计监理"
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
ORGS = ["某施工单位", "市建设工程质量监督站", "某监理公司", "某设计研究院", "某检测中心"]


# ---------------------------------------------------------------------------------------------------------
# processes and /proc


def raise_nofile(wanted: int) -> int:
    """Raise this process's open-file soft limit (children inherit it) as far as the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(max(wanted, soft), hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def serving_args() -> list[str]:
    """uvicorn flags for what every entry point serves with (server/protocols.py's `uvicorn_options`), so
    the benchmark runs Sitecast's edge as production does while still taking extra `--uvicorn-arg`s."""
    from server.protocols import MAX_CLIENT_MESSAGE_BYTES, WS_PING_SECONDS, WS_PONG_SECONDS

    return [
        *("--http", "server.protocols:HttpProtocol", "--ws", "server.protocols:WebSocketProtocol"),
        *("--ws-max-size", str(MAX_CLIENT_MESSAGE_BYTES), "--ws-per-message-deflate", "false"),
        *("--ws-ping-interval", str(WS_PING_SECONDS), "--ws-ping-timeout", str(WS_PONG_SECONDS)),
    ]


def _child_limits(nofile: int) -> Callable[[], None]:
    def apply() -> None:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(nofile, hard), hard))

    return apply


def cpu_times(pid: int) -> tuple[float, float]:
    """(utime, stime) in seconds of the whole process (all threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) / CLK_TCK, int(rest[12]) / CLK_TCK


def cpu_seconds(pid: int) -> float:
    return sum(cpu_times(pid))


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs, from /proc/stat: how saturated the whole machine is."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle, total


def cpu_times_all(pids: list[int]) -> tuple[float, float]:
    """(utime, stime) summed over every process of a server (several web processes on the scale-out path)."""
    times = [cpu_times(pid) for pid in pids]
    return sum(t[0] for t in times), sum(t[1] for t in times)


def rss_all(pids: list[int]) -> int:
    return sum(rss_kib(pid) for pid in pids)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[Any] | None, grace: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def log_tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


async def wait_http(url: str, timeout: float, proc: subprocess.Popen[Any], log: Path) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{log_tail(log)}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code < 500:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server not ready after {timeout}s:\n{log_tail(log)}")


async def settle_cpu(pids: list[int], timeout: float = 10.0, quiet: float = 0.03) -> None:
    """Wait until the server has (nearly) stopped using CPU, e.g. after thousands of sockets closed."""
    deadline = time.monotonic() + timeout
    last = sum(cpu_times_all(pids))
    quiet *= len(pids)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = sum(cpu_times_all(pids))
        if now - last <= quiet:
            return
        last = now


# ---------------------------------------------------------------------------------------------------------
# load clients (bench/node/client.js)


class Worker:
    """One client process holding a share of the viewers; talks JSON lines over stdin/stdout."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, log: Path, nofile: int) -> Worker:
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(NODE_DIR / "client.js"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log.open("ab"),
            limit=64 * 1024 * 1024,
            preexec_fn=_child_limits(nofile),
        )
        return cls(proc)

    async def call(self, cmd: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"load client exited ({self.proc.returncode}) during {cmd['cmd']}")
        return dict(json.loads(line))

    async def close(self) -> None:
        if self.proc.returncode is not None:
            return
        with contextlib.suppress(Exception):
            assert self.proc.stdin is not None
            self.proc.stdin.write(b'{"cmd":"exit"}\n')
            await self.proc.stdin.drain()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


class Viewers:
    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers

    @classmethod
    async def start(cls, n: int, log: Path, nofile: int) -> Viewers:
        return cls([await Worker.start(log, nofile) for _ in range(n)])

    async def connect(
        self, urls: list[str], viewers: int, concurrency: int, deflate: bool, parse: str
    ) -> dict[str, Any]:
        """Each client process connects its share to one of `urls` (the server's processes), round robin."""
        k = len(self.workers)
        shares = [viewers // k + (1 if i < viewers % k else 0) for i in range(k)]
        timeout_s = max(60.0, viewers / 40)
        cmds = [
            w.call(
                {
                    "cmd": "connect",
                    "url": urls[i % len(urls)],
                    "count": s,
                    "concurrency": concurrency,
                    "deflate": deflate,
                    "parse": parse,
                    "timeout_s": timeout_s,
                },
                timeout_s + 15,
            )
            for i, (w, s) in enumerate(zip(self.workers, shares, strict=True))
        ]
        replies = await asyncio.gather(*cmds)
        return {
            "ok": sum(r["ok"] for r in replies),
            "failed": sum(r["failed"] for r in replies),
            "seconds": max(r["seconds"] for r in replies),
        }

    async def reset(self) -> None:
        await asyncio.gather(*(w.call({"cmd": "reset"}, 30) for w in self.workers))

    async def stats(self) -> dict[str, Any]:
        replies = await asyncio.gather(*(w.call({"cmd": "stats"}, 60) for w in self.workers))
        merged: dict[str, Any] = {
            "open": 0,
            "frames": 0,
            "bytes": 0,
            "gaps": 0,
            "dups": 0,
            "closed": 0,
            "by_type": {},
            "close_codes": {},
            "approved": {},
            "votes": {},
            "samples": {},
        }
        for r in replies:
            for key in ("open", "frames", "bytes", "gaps", "dups", "closed"):
                merged[key] += r[key]
            for key in ("by_type", "close_codes"):
                for name, count in r[key].items():
                    merged[key][name] = merged[key].get(name, 0) + count
            for key in ("approved", "votes"):
                for ident, (count, first, last) in r[key].items():
                    have = merged[key].get(int(ident))
                    if have is None:
                        merged[key][int(ident)] = [count, first, last]
                    else:
                        have[0] += count
                        have[1] = min(have[1], first)
                        have[2] = max(have[2], last)
            for name, text in r["samples"].items():
                merged["samples"].setdefault(name, text)
        return merged

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(w.proc.pid) for w in self.workers if w.proc.returncode is None)

    async def close(self) -> None:
        await asyncio.gather(*(w.close() for w in self.workers))


# ---------------------------------------------------------------------------------------------------------
# the load: approvals (or broadcasts) at a fixed rate, plus the vote storm, open-loop


def now_us() -> int:
    return time.monotonic_ns() // 1000  # CLOCK_MONOTONIC, the clock client.js stamps receipts with


@dataclass
class LoadResult:
    sent: dict[int, int] = field(default_factory=dict)  # question id -> approve command send time (us)
    confirmed: set[int] = field(default_factory=set)  # question ids whose command returned 200
    response_ms: list[float] = field(default_factory=list)
    side_ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    seconds: float = 0.0

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


async def run_load(
    seconds: float,
    rate: float,
    side_rate: float,
    approve: Callable[[LoadResult], Awaitable[None]],
    side: Callable[[LoadResult], Awaitable[None]],
) -> LoadResult:
    """Fire `approve` `rate` times a second and `side` `side_rate` times a second, on a fixed schedule.

    Open loop: a slow server shows up as latency, not as a lower rate. Bounded by count and time.
    """
    result = LoadResult()
    inflight: set[asyncio.Task[None]] = set()
    t0 = time.monotonic() + 0.05

    async def paced(count: int, every: float, fn: Callable[[LoadResult], Awaitable[None]]) -> None:
        for i in range(count):
            delay = t0 + i * every - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(inflight) >= MAX_INFLIGHT:
                result.skipped += 1
                continue
            task = asyncio.create_task(fn(result))
            inflight.add(task)
            task.add_done_callback(inflight.discard)

    loops = [paced(int(seconds * rate), 1.0 / rate, approve)]
    if side_rate > 0:
        loops.append(paced(int(seconds * side_rate), 1.0 / side_rate, side))
    await asyncio.gather(*loops)
    if inflight:
        # Commands still queued at the server get half as long again as the load, then count as timeouts.
        done, pending = await asyncio.wait(set(inflight), timeout=max(5.0, seconds / 2))
        for task in pending:
            task.cancel()
            result.error("timeout")
    result.seconds = time.monotonic() - t0
    return result


# ---------------------------------------------------------------------------------------------------------
# the two servers


class LoadHTTP:
    """The driver's HTTP/1.1 client for the timed commands: keep-alive connections, O(1) per request.

    httpx's pool does work proportional to the requests queued on it; with a server that falls behind and
    hundreds of commands in flight, it took half a core of this 2-core machine away from the server under
    test. This client costs tens of microseconds per request and opens a connection per concurrent request.
    """

    def __init__(self, port: int, max_connections: int = MAX_INFLIGHT) -> None:
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.gate = asyncio.Semaphore(max_connections)
        self.all: set[asyncio.StreamWriter] = set()

    async def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: Any = None
    ) -> tuple[int, bytes]:
        payload = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Length: {len(payload)}\r\n"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        request = head.encode() + b"\r\n" + payload
        async with self.gate:
            for attempt in (1, 2):
                # The retry always takes a fresh connection: other idle ones may have been closed at once.
                reused = bool(self.idle) and attempt == 1
                if reused:
                    reader, writer = self.idle.pop()
                else:
                    reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20)
                    self.all.add(writer)
                try:
                    writer.write(request)
                    try:
                        head_bytes = await reader.readuntil(b"\r\n\r\n")
                    except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as exc:
                        # An idle keep-alive connection the server closed meanwhile: it never saw the request.
                        partial = getattr(exc, "partial", b"")
                        if reused and not partial and attempt == 1:
                            writer.close()
                            self.all.discard(writer)
                            continue
                        raise
                    status, data, close = await self._response(reader, head_bytes)
                except BaseException:
                    writer.close()
                    self.all.discard(writer)
                    raise
                if close:
                    writer.close()
                    self.all.discard(writer)
                else:
                    self.idle.append((reader, writer))
                return status, data
        raise AssertionError("unreachable")

    @staticmethod
    async def _response(reader: asyncio.StreamReader, head: bytes) -> tuple[int, bytes, bool]:
        status_line, _, rest = head.partition(b"\r\n")
        status = int(status_line.split()[1])
        fields = {}
        for line in rest.split(b"\r\n"):
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip().lower()
        if b"content-length" in fields:
            data = await reader.readexactly(int(fields[b"content-length"]))
        elif fields.get(b"transfer-encoding") == b"chunked":
            chunks = []
            while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                chunks.append((await reader.readexactly(size + 2))[:-2])
            await reader.readuntil(b"\r\n")
            data = b"".join(chunks)
        else:
            data = b""
        return status, data, fields.get(b"connection") == b"close"

    async def close(self) -> None:
        for writer in self.all:
            writer.close()
        self.all.clear()
        self.idle.clear()


def question_text(rng: random.Random, i: int) -> str:
    body = "".join(rng.choice(CJK) for _ in range(70))
    return f"第{i}问：{body}？"


def forwarded(i: int) -> dict[str, str]:
    # Every join/ask comes from its own address, as real viewers do: uvicorn trusts X-Forwarded-For from
    # 127.0.0.1 (its default --forwarded-allow-ips), so the per-address limits apply per simulated viewer.
    return {"X-Forwarded-For": f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"}


async def reset_database(url: str) -> None:
    """Drop every table of a server database the bench was pointed at, so migrations start from nothing."""
    from sqlalchemy import MetaData
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            meta = MetaData()
            await conn.run_sync(meta.reflect)
            await conn.run_sync(meta.drop_all)
            await conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    finally:
        await engine.dispose()


class Sitecast:
    name = "Sitecast"

    def __init__(
        self,
        tmp: Path,
        nofile: int,
        profile: str,
        profile_out: Path | None,
        extra: list[str] | None = None,
        database_url: str | None = None,
        processes: int = 1,
        redis_url: str | None = None,
    ) -> None:
        self.extra = list(extra or [])
        self.database_url = database_url
        self.redis_url = redis_url
        self.tmp = tmp / "sitecast"
        self.tmp.mkdir()
        self.ports = [free_port() for _ in range(processes)]
        self.port = self.ports[0]  # the moderator's commands and the setup go to the first process
        self.base = f"http://127.0.0.1:{self.port}"
        self.slug = f"bench-{random.randrange(1 << 30):x}"
        self.ws_urls = [f"ws://127.0.0.1:{port}/api/v1/events/{self.slug}/ws" for port in self.ports]
        self.log = self.tmp / "server.log"
        self.nofile = nofile
        self.profile = profile
        self.profile_out = profile_out
        self.proc: subprocess.Popen[Any] | None = None
        self.procs: list[subprocess.Popen[Any]] = []
        self.http: httpx.AsyncClient | None = None
        self.load: LoadHTTP | None = None
        self.pending: list[int] = []
        self.approved: list[int] = []
        self.askers: list[dict[str, str]] = []
        self.voters: list[dict[str, str]] = []
        self.voted: set[tuple[int, int]] = set()
        self.rng = random.Random(7)
        self._xff = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self.procs]

    def _next_ip(self) -> dict[str, str]:
        self._xff += 1
        return forwarded(self._xff)

    async def start(self) -> None:
        url = self.database_url or f"sqlite+aiosqlite:///{self.tmp}/b.db"
        if self.database_url:
            await reset_database(url)
        env = {
            **os.environ,
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "SECRET_KEY": "bench",
            "DATABASE_URL": url,
            "MEDIA_DIR": str(self.tmp / "media"),
        }
        if self.redis_url:
            # The scale-out path: every web process on the shared Redis (its own key prefix per run).
            env |= {"REDIS_URL": self.redis_url, "REDIS_PREFIX": f"bench{random.randrange(1 << 30):x}"}
        subprocess.run(
            [sys.executable, "-c", f"from server.db.migrate import upgrade; upgrade({url!r})"],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=120,
            stdout=subprocess.DEVNULL,
        )
        for index, port in enumerate(self.ports):
            cmd = [sys.executable]
            if self.profile == "cprofile" and index == 0:
                assert self.profile_out is not None
                cmd += ["-m", "cProfile", "-o", str(self.profile_out)]
            cmd += [
                "-m",
                "uvicorn",
                "--factory",
                "server.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *serving_args(),
                "--log-level",
                "warning",
                *self.extra,
            ]
            proc = subprocess.Popen(  # noqa: ASYNC220 (started once, waited on elsewhere)
                cmd,
                cwd=ROOT,
                env=env,
                stdout=self.log.open("ab"),
                stderr=subprocess.STDOUT,
                preexec_fn=_child_limits(self.nofile),
            )
            self.procs.append(proc)
        self.proc = self.procs[0]
        for port, proc in zip(self.ports, self.procs, strict=True):
            await wait_http(f"http://127.0.0.1:{port}/healthz", 60, proc, self.log)
        self.http = httpx.AsyncClient(base_url=self.base, timeout=60.0)  # setup only
        self.load = LoadHTTP(self.port)

    async def _check(self, response: httpx.Response, status: int, what: str) -> dict[str, Any]:
        if response.status_code != status:
            raise RuntimeError(f"{what}: HTTP {response.status_code} {response.text[:300]}")
        return dict(response.json())

    async def setup(self, questions: int, voters: int) -> None:
        """The event, a moderator, and the participants who will ask and vote (nobody has asked yet)."""
        http = self.http
        assert http is not None
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ev = f"/api/v1/events/{self.slug}"
        await self._check(
            await http.post("/api/v1/events", json={"slug": self.slug, "title_zh": "压测：实时答疑"}, headers=admin),
            201,
            "create event",
        )
        await self._check(await http.post(f"{ev}/state", json={"state": "live"}, headers=admin), 200, "go live")
        invite = await self._check(
            await http.post(f"{ev}/invites", json={"role": "moderator"}, headers=admin), 201, "invite moderator"
        )
        self.mod = {"Authorization": f"Bearer {invite['token']}"}
        gate = asyncio.Semaphore(16)

        async def join(i: int) -> dict[str, str]:
            async with gate:
                body = {
                    "name": f"{self.rng.choice(SURNAMES)}工{i}",
                    "organisation": self.rng.choice(ORGS),
                    "stakeholder": "construction",
                }
                out = await self._check(await http.post(f"{ev}/join", json=body, headers=self._next_ip()), 201, "join")
                return {"Authorization": f"Bearer {out['token']}"}

        self.askers = list(await asyncio.gather(*(join(i) for i in range(questions))))
        self.voters = list(await asyncio.gather(*(join(questions + i) for i in range(voters))))

    async def prepare(self) -> None:
        """Every asker asks one question; they wait, pending, in the moderation queue for the load."""
        http = self.http
        assert http is not None
        gate = asyncio.Semaphore(16)

        async def ask(i: int, who: dict[str, str]) -> int | None:
            async with gate:
                out = await self._check(
                    await http.post(
                        f"/api/v1/events/{self.slug}/questions",
                        json={"text": question_text(self.rng, i)},
                        headers=who | self._next_ip(),
                    ),
                    201,
                    "ask",
                )
                return int(out["id"]) if out["status"] == "pending" else None

        ids = await asyncio.gather(*(ask(i, who) for i, who in enumerate(self.askers)))
        self.pending = [qid for qid in ids if qid is not None]
        if len(self.pending) < len(self.askers):
            print(f"  note: {len(self.askers) - len(self.pending)} questions were not pending (held?)", flush=True)

    def take(self) -> int:
        return self.pending.pop(0)

    async def approve(self, result: LoadResult) -> None:
        assert self.load is not None
        if not self.pending:
            result.error("no pending question left")
            return
        qid = self.take()
        t = now_us()
        result.sent[qid] = t
        try:
            status, _ = await self.load.request(
                "POST", f"/api/v1/events/{self.slug}/questions/{qid}/actions", self.mod, {"action": "approve"}
            )
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            result.error(f"approve {type(exc).__name__}")
            return
        result.response_ms.append((now_us() - t) / 1000)
        if status != 200:
            result.error(f"approve HTTP {status}")
            return
        result.confirmed.add(qid)
        self.approved.append(qid)

    async def vote(self, result: LoadResult) -> None:
        assert self.load is not None
        if not self.approved:
            return  # nothing to vote for yet (the first approval is in flight)
        recent = self.approved[-20:]  # a storm goes to what is on screen: the newest questions
        for _ in range(10):
            v = self.rng.randrange(len(self.voters))
            qid = self.rng.choice(recent)
            if (v, qid) not in self.voted:
                break
        else:
            result.error("vote: no fresh (voter, question) pair")
            return
        self.voted.add((v, qid))
        try:
            status, _ = await self.load.request(
                "PUT", f"/api/v1/events/{self.slug}/questions/{qid}/vote", self.voters[v]
            )
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            result.error(f"vote {type(exc).__name__}")
            return
        if status == 200:
            result.side_ok += 1
        else:
            result.error(f"vote HTTP {status}")

    def side_rate(self, votes_per_s: float) -> float:
        return votes_per_s

    async def stop(self) -> None:
        if self.load is not None:
            await self.load.close()
            self.load = None
        if self.http is not None:
            await self.http.aclose()
            self.http = None
        for proc in self.procs:
            stop_process(proc, grace=15 if self.profile == "cprofile" else 10)


class NodeBaseline:
    name = "Node ws"

    def __init__(
        self,
        tmp: Path,
        nofile: int,
        approved_sample: str,
        votes_sample: str | None,
        viewers: int,
        processes: int = 1,
    ) -> None:
        self.viewers = viewers
        self.tmp = tmp / "node"
        self.tmp.mkdir()
        self.log = self.tmp / "server.log"
        self.nofile = nofile
        self.ports = [free_port() for _ in range(processes)]
        self.port = self.ports[0]
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_urls = [f"ws://127.0.0.1:{port}/ws" for port in self.ports]
        # The baseline sends exactly Sitecast's frames (same fields, same sizes), with its own numbering.
        self.approved_data = json.loads(approved_sample)["data"]
        self.votes_data = json.loads(votes_sample)["data"] if votes_sample else {"counts": {"1": 1}}
        self.procs: list[subprocess.Popen[Any]] = []
        self.loads: list[LoadHTTP] = []
        self.next_qid = 0

    @property
    def pid(self) -> int:
        return self.procs[0].pid

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self.procs]

    async def start(self) -> None:
        for port in self.ports:
            proc = subprocess.Popen(  # noqa: ASYNC220
                ["node", str(NODE_DIR / "server.js"), str(port)],
                cwd=NODE_DIR,
                stdout=self.log.open("ab"),
                stderr=subprocess.STDOUT,
                preexec_fn=_child_limits(self.nofile),
            )
            self.procs.append(proc)
            await wait_http(f"http://127.0.0.1:{port}/stats", 30, proc, self.log)
            self.loads.append(LoadHTTP(port))

    async def setup(self, questions: int, voters: int) -> None:
        return None

    async def prepare(self) -> None:
        return None

    async def _broadcast(self, body: dict[str, Any]) -> int:
        # Several processes: the driver itself hands the frame to each (no broker, so Node pays nothing
        # for one: a lower bound for a Node deployment, against Sitecast going through Redis).
        answers = await asyncio.gather(*(load.request("POST", "/broadcast", None, body) for load in self.loads))
        return max(status for status, _ in answers)

    async def approve(self, result: LoadResult) -> None:
        self.next_qid += 1
        qid = self.next_qid
        data = {**self.approved_data, "id": qid}
        t = now_us()
        result.sent[qid] = t
        try:
            status = await self._broadcast({"type": "question.approved", "data": data})
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            result.error(f"broadcast {type(exc).__name__}")
            return
        result.response_ms.append((now_us() - t) / 1000)
        if status != 200:
            result.error(f"broadcast HTTP {status}")
            return
        result.confirmed.add(qid)

    async def vote(self, result: LoadResult) -> None:
        try:
            status = await self._broadcast({"type": "question.votes", "data": self.votes_data})
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            result.error(f"votes broadcast {type(exc).__name__}")
            return
        if status == 200:
            result.side_ok += 1
        else:
            result.error(f"votes broadcast HTTP {status}")

    def side_rate(self, votes_per_s: float) -> float:
        # What the vote storm becomes on the wire: Sitecast coalesces it (4 frames a second, 1 above 1,000 viewers).
        return min(votes_per_s, coalesced_vote_frames_per_s(self.viewers))

    async def stop(self) -> None:
        for load in self.loads:
            await load.close()
        self.loads = []
        for proc in self.procs:
            stop_process(proc)


# ---------------------------------------------------------------------------------------------------------
# one measurement


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def measure(server: Any, args: argparse.Namespace, tmp: Path, nofile: int) -> dict[str, Any]:
    name = server.name
    out: dict[str, Any] = {"server": name}
    print(f"[{name}] starting", flush=True)
    await server.start()
    calib_s = min(args.calibrate, args.seconds) if args.calibrate > 0 else 0.0
    questions = int(args.rate * (args.seconds + calib_s)) + 20
    t = time.monotonic()
    await server.setup(questions, args.voters)
    out["setup_s"] = time.monotonic() - t
    await settle_cpu(server.pids, timeout=5)
    out["rss_idle_kib"] = rss_all(server.pids)
    viewers = await Viewers.start(args.workers, tmp / f"clients-{name.split()[0].lower()}.log", nofile)
    try:
        print(f"[{name}] connecting {args.viewers} viewers ({args.workers} client processes)", flush=True)
        cpu_before = sum(cpu_times_all(server.pids))
        conn = await viewers.connect(server.ws_urls, args.viewers, args.concurrency, args.deflate, args.parse)
        # The server's own CPU for the connects: unlike their wall time, hardly moved by what the clients and
        # the neighbours get of the machine.
        out["connect_cpu_s"] = sum(cpu_times_all(server.pids)) - cpu_before
        out["connected"] = conn["ok"]
        out["connect_failed"] = conn["failed"]
        out["connect_s"] = conn["seconds"]
        if conn["ok"] == 0:
            raise RuntimeError(f"{name}: no viewer could connect:\n{log_tail(server.log)}")
        if conn["failed"]:
            print(f"[{name}] {conn['failed']} viewers failed to connect; server log:\n{log_tail(server.log, 12)}")
        await asyncio.sleep(2.5)  # presence recount etc. settle; then count the connected memory
        await settle_cpu(server.pids, timeout=10)
        out["rss_connected_kib"] = rss_all(server.pids)
        # Questions are asked after the viewers joined: a snapshot carries the whole queue, and connecting
        # 5,000 viewers to an event with hundreds of pending questions costs far more (see README).
        await server.prepare()
        await settle_cpu(server.pids, timeout=10)
        before = await viewers.stats()
        out["connected"] = before["open"]
        await viewers.reset()

        profiler = None
        if args.profile == "py-spy" and name == "Sitecast":
            profiler = subprocess.Popen(  # noqa: ASYNC220
                [
                    args.py_spy,
                    "record",
                    "--pid",
                    str(server.pid),
                    "--duration",
                    str(int(args.seconds) + 1),
                    "--rate",
                    "250",
                    "--nonblocking",
                    "--gil",
                    "--format",
                    "raw",
                    "-o",
                    str(args.profile_out),
                ],
                stdout=subprocess.DEVNULL,
                stderr=(tmp / "py-spy.log").open("ab"),
            )
        print(
            f"[{name}] load: {args.rate:g} approvals/s, {server.side_rate(args.votes):g} side/s, {args.seconds:g} s",
            flush=True,
        )
        out["loadavg"] = os.getloadavg()[0]  # the shared machine's load as the window opens
        cpu0 = cpu_times_all(server.pids)
        clients0 = viewers.cpu_seconds()
        driver0 = _self_cpu()
        machine0 = machine_ticks()
        w0 = time.monotonic()
        load = await run_load(args.seconds, args.rate, server.side_rate(args.votes), server.approve, server.vote)
        # Drain: every approved question reaches every open viewer (or we give up and count it lost).
        # The last coalesced votes frame goes out within one flush interval.
        await asyncio.sleep(flush_interval(args.viewers) + 0.35)
        deadline = time.monotonic() + args.drain
        # A server that is behind but still delivering gets longer (up to 6x --drain), so what is counted as
        # lost never reached a viewer rather than was still on its way; the extra wait shows in the latencies.
        hard_deadline = time.monotonic() + 6 * args.drain
        frames_seen, progress_at = -1, time.monotonic()
        while True:
            stats = await viewers.stats()
            want = stats["open"]
            # Wait for every question the server confirmed or some viewer already saw (a command that timed out
            # at the driver may still be approved late: then it must reach everyone too).
            expected = load.confirmed | {q for q in load.sent if q in stats["approved"]}
            done = all(stats["approved"][q][0] >= want if q in stats["approved"] else False for q in expected)
            now = time.monotonic()
            if stats["frames"] > frames_seen:
                frames_seen, progress_at = stats["frames"], now
            # Still delivering: a frame arrived within the last 2 s (a starved server pauses for a while).
            moving = now - progress_at < 2.0
            if done or now > hard_deadline or (now > deadline and not moving):
                break
            await asyncio.sleep(0.25)
        cpu1 = cpu_times_all(server.pids)
        clients_cpu = viewers.cpu_seconds() - clients0
        driver_cpu = _self_cpu() - driver0
        machine1 = machine_ticks()
        window = time.monotonic() - w0
        if profiler is not None:
            try:
                profiler.wait(30)
            except subprocess.TimeoutExpired:
                profiler.kill()
        out["rss_loaded_kib"] = rss_all(server.pids)
    finally:
        await viewers.close()

    lat_last, lat_first, spread, lost, receipts, unconfirmed = [], [], [], 0, 0, 0
    open_viewers = stats["open"]
    for qid, t_send in load.sent.items():
        count, first, last = stats["approved"].get(qid, [0, None, None])
        if qid not in load.confirmed and count == 0:
            unconfirmed += 1  # the command failed or timed out and no viewer saw the question: nothing was lost
            continue
        receipts += count
        lost += max(0, open_viewers - count)
        if count:
            lat_first.append((first - t_send) / 1000)
            lat_last.append((last - t_send) / 1000)
            spread.append((last - first) / 1000)
    deliveries = stats["frames"]
    cpu_user, cpu_sys = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
    cpu = cpu_user + cpu_sys
    busy = (machine1[0] - machine0[0]) / max(1, machine1[1] - machine0[1]) * (os.cpu_count() or 1)
    out.update(
        open_viewers=open_viewers,
        closed=stats["closed"],
        close_codes=stats["close_codes"],
        approvals=len(load.sent),
        delivered_approvals=len(load.sent) - unconfirmed,
        side_ok=load.side_ok,
        skipped=load.skipped,
        errors=load.errors,
        load_s=load.seconds,
        window_s=window,
        by_type=stats["by_type"],
        deliveries=deliveries,
        bytes=stats["bytes"],
        receipts=receipts,
        lost=lost,
        gaps=stats["gaps"],
        dups=stats["dups"],
        vote_frames=len(stats["votes"]),
        lat_last=lat_last,
        lat_first=lat_first,
        spread=spread,
        response_ms=load.response_ms,
        cpu_s=cpu,
        cpu_user_s=cpu_user,
        cpu_sys_s=cpu_sys,
        clients_cpu_s=clients_cpu,
        driver_cpu_s=driver_cpu,
        machine_busy_cores=busy,
        cpu_per_1k=cpu / deliveries * 1000 if deliveries else float("nan"),
        samples=stats["samples"],
    )

    # The same commands with nobody watching: what the commands themselves cost (HTTP, database, publish).
    if calib_s > 0:
        await settle_cpu(server.pids, timeout=15)
        c0 = sum(cpu_times_all(server.pids))
        calib = await run_load(calib_s, args.rate, server.side_rate(args.votes), server.approve, server.vote)
        await asyncio.sleep(0.6)
        c1 = sum(cpu_times_all(server.pids))
        per_approval = (c1 - c0) / max(1, len(calib.sent))
        out["command_cpu_per_approval_s"] = per_approval
        fanout_cpu = max(0.0, cpu - per_approval * len(load.sent))
        out["fanout_cpu_s"] = fanout_cpu
        out["fanout_cpu_per_1k"] = fanout_cpu / deliveries * 1000 if deliveries else float("nan")
        out["calib_errors"] = calib.errors
    await server.stop()
    print(f"[{name}] done: {deliveries} deliveries, {lost} lost, {cpu:.2f} CPU-s", flush=True)
    return out


# ---------------------------------------------------------------------------------------------------------
# report


def fmt(v: Any, spec: str = ".1f") -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and v != v:
        return "n/a"
    return format(v, spec)


def _behind(r: dict[str, Any]) -> bool:
    """The server did not keep up: commands queued for over a second, or were skipped or timed out."""
    return bool(percentile(r["lat_first"], 50) > 1000 or r["skipped"] or r["errors"])


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    s = next((r for r in results if r["server"] == "Sitecast"), None)
    n = next((r for r in results if r["server"] == "Node ws"), None)
    cols = [r for r in (s, n) if r is not None]
    rows: list[tuple[str, list[str], str]] = []

    def ratio(a: float | None, b: float | None) -> str:
        if s is None or n is None or a is None or b is None or not b or a != a or b != b:
            return ""
        return f"{a / b:.2f}x"

    def row(label: str, key: Callable[[dict[str, Any]], Any], spec: str = ".1f", with_ratio: bool = False) -> None:
        values = [key(r) for r in cols]
        rows.append((label, [fmt(v, spec) for v in values], ratio(key(s), key(n)) if with_ratio and s and n else ""))

    row("viewers connected (of requested)", lambda r: f"{r['open_viewers']}/{args.viewers}", "s")
    row("connect time, s", lambda r: r["connect_s"], ".1f", True)
    row("  server CPU to connect, ms/viewer", lambda r: r["connect_cpu_s"] * 1e3 / max(1, r["connected"]), ".3f", True)
    row(
        "approvals sent / delivered",
        lambda r: f"{r['approvals']} / {r['delivered_approvals']}",
        "s",
    )
    row("votes frames received (distinct)", lambda r: r["vote_frames"], "d")
    row("deliveries in window (frames)", lambda r: r["deliveries"], ",d", True)
    row("lost receipts (question x viewer)", lambda r: r["lost"], "d")
    row("numbering gaps / dups / closed", lambda r: f"{r['gaps']}/{r['dups']}/{r['closed']}", "s")
    row("latency to LAST viewer p50, ms", lambda r: percentile(r["lat_last"], 50), ".1f", True)
    row("latency to LAST viewer p99, ms", lambda r: percentile(r["lat_last"], 99), ".1f", True)
    row("latency to LAST viewer max, ms", lambda r: max(r["lat_last"], default=float("nan")), ".1f", True)
    row("latency to FIRST viewer p50, ms", lambda r: percentile(r["lat_first"], 50), ".1f", True)
    row("fan-out spread (last - first) p50, ms", lambda r: percentile(r["spread"], 50), ".1f", True)
    row("fan-out spread (last - first) p99, ms", lambda r: percentile(r["spread"], 99), ".1f", True)
    row(
        "command response p50 / p99, ms",
        lambda r: f"{percentile(r['response_ms'], 50):.1f} / {percentile(r['response_ms'], 99):.1f}",
        "s",
    )
    row("server CPU in window, s", lambda r: r["cpu_s"], ".2f", True)
    row("  user / system, s", lambda r: f"{r['cpu_user_s']:.2f} / {r['cpu_sys_s']:.2f}", "s")
    row(
        "load clients' / driver's CPU in window, s",
        lambda r: f"{r['clients_cpu_s']:.2f} / {r['driver_cpu_s']:.2f}",
        "s",
    )
    row("machine busy in window, cores", lambda r: f"{r['machine_busy_cores']:.2f} of {os.cpu_count()}", "s")
    row("machine load average (1 min) at window start", lambda r: r.get("loadavg"), ".1f")
    row("window (load + drain), s", lambda r: r["window_s"], ".1f")
    row("CPU-s per 1,000 deliveries", lambda r: r["cpu_per_1k"], ".4f", True)
    if all("fanout_cpu_per_1k" in r for r in cols):
        row(
            "  of which commands (no viewers), CPU-ms/approval",
            lambda r: r["command_cpu_per_approval_s"] * 1000,
            ".2f",
            True,
        )
        row("  fan-out only, CPU-s per 1,000 deliveries", lambda r: r["fanout_cpu_per_1k"], ".4f", True)
    row("RSS idle, MiB", lambda r: r["rss_idle_kib"] / 1024, ".1f")
    row("RSS with viewers connected, MiB", lambda r: r["rss_connected_kib"] / 1024, ".1f")
    row(
        "RSS per connection, KiB",
        lambda r: (r["rss_connected_kib"] - r["rss_idle_kib"]) / max(1, r["connected"]),
        ".1f",
        True,
    )
    row("RSS after load, MiB", lambda r: r["rss_loaded_kib"] / 1024, ".1f")

    width = max(len(label) for label, _, _ in rows)
    head = f"{'':<{width}}  " + "  ".join(f"{r['server']:>14}" for r in cols) + ("  Sitecast/Node" if s and n else "")
    lines = [head, "-" * len(head)]
    for label, values, rt in rows:
        lines.append(f"{label:<{width}}  " + "  ".join(f"{v:>14}" for v in values) + (f"  {rt:>13}" if rt else ""))
    if s and n:
        cpu_ratio = s["cpu_per_1k"] / n["cpu_per_1k"] if n["cpu_per_1k"] else float("nan")
        p99_ratio = percentile(s["lat_last"], 99) / percentile(n["lat_last"], 99)
        lines.append("")
        behind = [r["server"] for r in (s, n) if _behind(r)]
        for label, value in (("CPU per delivery", cpu_ratio), ("p99 latency to last viewer", p99_ratio)):
            verdict = (
                "meets aim (<=1.0x)"
                if value <= 1.0
                else "meets target (<=1.5x)"
                if value <= 1.5
                else "MISSES target (1.5x)"
            )
            if label.startswith("p99") and behind:
                verdict = f"not comparable: {' and '.join(behind)} did not keep up (latency is backlog)"
            lines.append(f"{label} Sitecast/Node = {value:.2f}x: {verdict}")
    for r in cols:
        if _behind(r):
            lines.append(
                f"{r['server']}: DID NOT KEEP UP with the offered load (commands queued: first-viewer latency "
                f"p50 {percentile(r['lat_first'], 50):,.0f} ms, {r['skipped']} skipped); latency here is backlog"
            )
    for r in cols:
        extra = []
        if r["errors"]:
            extra.append(f"errors {r['errors']}")
        if r["skipped"]:
            extra.append(f"skipped {r['skipped']} (too many commands in flight)")
        if r["connect_failed"]:
            extra.append(f"{r['connect_failed']} viewers failed to connect")
        if r["close_codes"]:
            extra.append(f"close codes {r['close_codes']}")
        types = ", ".join(f"{k} {v}" for k, v in sorted(r["by_type"].items()))
        lines.append(f"{r['server']}: frames by type: {types}" + (f"; {'; '.join(extra)}" if extra else ""))
        if r["server"] == "Sitecast":
            lines.append(f"{r['server']}: vote PUTs accepted {r['side_ok']} ({args.votes:g}/s requested)")
        sample = r["samples"].get("approved")
        if sample:
            lines.append(f"{r['server']}: question.approved frame {len(sample.encode())} bytes")
    return lines


# ---------------------------------------------------------------------------------------------------------


def ensure_node_deps() -> None:
    if shutil.which("node") is None:
        raise SystemExit("node (>= 20) is required for the baseline server and the load client")
    if not (NODE_DIR / "node_modules" / "ws").is_dir():
        print("installing bench/node dependencies (npm ci)", flush=True)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=300)


async def main_async(args: argparse.Namespace) -> int:
    nofile = raise_nofile(args.viewers * 2 + 2048)
    if nofile < args.viewers + 512:
        print(f"warning: open-file limit {nofile} is low for {args.viewers} viewers", flush=True)
    ensure_node_deps()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ws_fanout-") as tmp_name:
        tmp = Path(tmp_name)
        samples: dict[str, str] = {}
        if args.only in ("both", "sitecast"):
            sc = Sitecast(
                tmp,
                nofile,
                args.profile,
                args.profile_out,
                args.uvicorn_arg,
                args.database_url,
                args.processes,
                args.redis_url,
            )
            try:
                res = await measure(sc, args, tmp, nofile)
            finally:
                await sc.stop()
            results.append(res)
            samples = res["samples"]
        if args.only in ("both", "node"):
            approved = samples.get("approved") or json.dumps(
                {"type": "question.approved", "id": 0, "data": fallback_frame_data()}, ensure_ascii=False
            )
            nb = NodeBaseline(tmp, nofile, approved, samples.get("votes"), args.viewers, args.processes)
            try:
                results.append(await measure(nb, args, tmp, nofile))
            finally:
                await nb.stop()
    lines = report(results, args)
    print()
    offered = (args.rate + min(args.votes, coalesced_vote_frames_per_s(args.viewers))) * args.viewers
    print(
        f"ws_fanout: {args.viewers} viewers, {args.seconds:g} s, {args.rate:g} approvals/s, {args.votes:g} votes/s, "
        f"{args.workers} client processes, deflate {'offered' if args.deflate else 'off'}, {os.cpu_count()} CPUs; "
        + (f"{args.processes} processes per server (Sitecast behind Redis); " if args.processes > 1 else "")
        + f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
        f"offered ~{offered:,.0f} deliveries/s"
        + (f"; uvicorn {' '.join(args.uvicorn_arg)}" if args.uvicorn_arg else "")
    )
    print("\n".join(lines))
    if args.json:
        slim = [{k: v for k, v in r.items() if k not in ("samples",)} for r in results]
        Path(args.json).write_text(
            json.dumps(
                {"args": vars(args) | {"profile_out": str(args.profile_out)}, "results": slim}, indent=1, default=str
            )
        )
    lost = sum(r["lost"] + r["gaps"] for r in results)
    if lost:
        print(f"FAIL: {lost} frames lost by viewers that were reading", flush=True)
        return 1
    return 0


def fallback_frame_data() -> dict[str, Any]:
    rng = random.Random(1)
    return {
        "id": 0,
        "text": question_text(rng, 1),
        "status": "approved",
        "votes": 0,
        "created_at": time.time(),
        "anonymous": False,
        "asker": {"name": "王工1", "organisation": "某施工单位", "stakeholder": "construction"},
        "pinned": False,
        "position": None,
        "topic": None,
        "answering_at": None,
        "answered_at": None,
        "answer_text": None,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--viewers", type=int, default=5000, help="WebSocket viewers connected (default 5000)")
    p.add_argument("--seconds", type=float, default=20.0, help="length of the measured load (default 20)")
    p.add_argument("--rate", type=float, default=10.0, help="approvals (baseline: broadcasts) per second (default 10)")
    p.add_argument("--votes", type=float, default=20.0, help="vote PUTs per second on Sitecast (default 20)")
    p.add_argument("--voters", type=int, default=200, help="joined participants who vote (default 200)")
    p.add_argument("--workers", type=int, default=2, help="load-client processes (default 2)")
    p.add_argument("--concurrency", type=int, default=64, help="handshakes in flight per client process")
    p.add_argument("--drain", type=float, default=10.0, help="max seconds to wait for the last deliveries")
    p.add_argument(
        "--calibrate",
        type=float,
        default=5.0,
        help="seconds of the same commands with no viewers, to split command cost from fan-out (0: skip)",
    )
    p.add_argument(
        "--database-url",
        default=None,
        help="run Sitecast on this database instead of a fresh SQLite file, e.g. "
        "postgresql+asyncpg://postgres@127.0.0.1:5432/bench (its tables are DROPPED first)",
    )
    p.add_argument("--deflate", action="store_true", help="clients offer permessage-deflate (as browsers do)")
    p.add_argument(
        "--parse",
        choices=("head", "full"),
        default="head",
        help="clients read type/ids from the frame head (default) or JSON.parse every frame",
    )
    p.add_argument(
        "--uvicorn-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for Sitecast's uvicorn, repeatable (e.g. --uvicorn-arg=--ws-per-message-deflate=true)",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help="web processes per server (Sitecast: each its own uvicorn behind --redis-url; Node: as many "
        "`server.js`, each POSTed every broadcast); viewers spread over them, commands to the first",
    )
    p.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL"),
        help="Redis for Sitecast's processes (default $REDIS_URL; needed with --processes above 1)",
    )
    p.add_argument("--only", choices=("both", "sitecast", "node"), default="both")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--profile", choices=("none", "cprofile", "py-spy"), default="none", help="profile Sitecast")
    p.add_argument("--profile-out", type=Path, default=None, help="profile output file")
    p.add_argument("--py-spy", default="py-spy", help="py-spy executable")
    args = p.parse_args(argv)
    if args.viewers < 1 or args.seconds <= 0 or args.rate <= 0 or args.workers < 1:
        p.error("--viewers, --seconds, --rate and --workers must be positive")
    if args.processes < 1:
        p.error("--processes must be positive")
    if args.processes > 1 and not args.redis_url:
        p.error("--processes above 1 needs --redis-url (or REDIS_URL): the processes share one Redis")
    if args.processes > 1:
        args.workers = max(args.workers, args.processes)  # one client process per server process at least
    if args.profile != "none" and args.profile_out is None:
        args.profile_out = Path(f"/tmp/ws_fanout.{'prof' if args.profile == 'cprofile' else 'pyspy.txt'}").resolve()
    return args


def main() -> int:
    args = parse_args()
    try:
        return asyncio.run(main_async(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
