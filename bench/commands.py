"""What the question commands cost the server: CPU-ms per ask / approve / vote / answer, no viewers.

    .venv/bin/python bench/commands.py                       # SQLite and PostgreSQL, 400 of each command
    .venv/bin/python bench/commands.py --only sqlite -n 200
    .venv/bin/python bench/commands.py --compare /tmp/start  # also the same commands served from another tree

The server runs as the Procfile runs it (`python -m server migrate`, then `python -m server web`), on a fresh
SQLite file and on a fresh PostgreSQL database (`--postgres-url`, created and dropped by the run). One client
sends each command in turn (`--concurrency` in flight) over keep-alive connections; the server's CPU
(`utime+stime` of `/proc/<pid>/stat`, every thread) is read before and after each phase. The baseline of
the same run is `GET /healthz` (uvicorn, the middlewares and one `SELECT 1`: the floor of any request), and
with `--compare DIR` the same commands served from DIR (e.g. the start commit, `git archive … | tar -x`),
each phase of both servers run alternately, so the ratios see the same machine load. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.ws_fanout import (  # the fan-out bench's process and HTTP helpers
    ADMIN_TOKEN,
    ORGS,
    SURNAMES,
    LoadHTTP,
    cpu_seconds,
    forwarded,
    free_port,
    question_text,
    stop_process,
    wait_http,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
GOAL_MS = 2.0  # issue 18: approve / answer / vote at ≤ 2 CPU-ms each
SETTLE_S = 0.6  # after a phase: the vote coalescer's flush (≤ 0.25 s) and the last responses land in the window


def load_avg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class Phase:
    name: str
    count: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    load: str = ""

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu_s / max(1, self.count)


class Server:
    """One Sitecast web process, as the Procfile starts it, on its own database."""

    def __init__(self, label: str, tree: Path, database_url: str, tmp: Path, profile: Path | None = None) -> None:
        self.label = label
        self.profile = profile
        self.tree = tree
        self.url = database_url
        self.tmp = tmp
        self.port = free_port()
        self.slug = f"cmd-{random.randrange(1 << 30):x}"
        self.proc: subprocess.Popen[Any] | None = None
        self.log = tmp / "server.log"
        self.http: httpx.AsyncClient | None = None
        self.load: LoadHTTP | None = None
        self.rng = random.Random(11)
        self._xff = 0
        self.mod: dict[str, str] = {}
        self.askers: list[dict[str, str]] = []
        self.voters: list[dict[str, str]] = []
        self.pending: list[int] = []
        self.approved: list[int] = []
        self.idle_ms_per_s = 0.0

    def _ip(self) -> dict[str, str]:
        self._xff += 1
        return forwarded(self._xff)

    async def start(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(self.tree),
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "SECRET_KEY": "bench",
            "DATABASE_URL": self.url,
            "MEDIA_DIR": str(self.tmp / "media"),
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "warning"),
            "LIVE_CAPTIONS": "false",
            # Setup joins and asks come from distinct addresses anyway; the limits are not what is measured.
            "JOIN_RATE_PER_MINUTE": "100000",
            "ASK_RATE_PER_MINUTE": "100000",
        }
        env.pop("REDIS_URL", None)  # the embedded default: in-process bus and limits
        py = sys.executable
        subprocess.run([py, "-m", "server", "migrate"], cwd=self.tree, env=env, check=True, timeout=180,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        profiled = ["-m", "cProfile", "-o", str(self.profile)] if self.profile else []
        self.proc = subprocess.Popen(  # noqa: ASYNC220 (started once, stopped in stop())
            [py, *profiled, "-m", "server", "web"],
            cwd=self.tree,
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        await wait_http(f"http://127.0.0.1:{self.port}/healthz", 90, self.proc, self.log)
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=60.0)
        self.load = LoadHTTP(self.port)

    async def _ok(self, response: httpx.Response, status: int, what: str) -> dict[str, Any]:
        if response.status_code != status:
            raise RuntimeError(f"{self.label} {what}: HTTP {response.status_code} {response.text[:300]}")
        return dict(response.json())

    async def setup(self, n: int) -> None:
        http = self.http
        assert http is not None
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ev = f"/api/v1/events/{self.slug}"
        await self._ok(await http.post("/api/v1/events", json={"slug": self.slug, "title_zh": "压测：命令"},
                                       headers=admin), 201, "create")  # fmt: skip
        await self._ok(await http.post(f"{ev}/state", json={"state": "live"}, headers=admin), 200, "live")
        inv = await self._ok(await http.post(f"{ev}/invites", json={"role": "moderator"}, headers=admin), 201, "mod")
        self.mod = {"Authorization": f"Bearer {inv['token']}"}

        async def join(i: int) -> dict[str, str]:
            body = {"name": f"{self.rng.choice(SURNAMES)}工{i}", "organisation": self.rng.choice(ORGS),
                    "stakeholder": "construction"}  # fmt: skip
            out = await self._ok(await http.post(f"{ev}/join", json=body, headers=self._ip()), 201, "join")
            return {"Authorization": f"Bearer {out['token']}"}

        people = [await join(i) for i in range(n + max(1, n // 10))]
        self.askers, self.voters = people[:n], people[n:]
        idle0, t0 = cpu_seconds(self.proc.pid), time.monotonic()  # type: ignore[union-attr]
        await asyncio.sleep(1.0)
        self.idle_ms_per_s = 1000 * (cpu_seconds(self.proc.pid) - idle0) / (time.monotonic() - t0)  # type: ignore[union-attr]

    # the commands: (method, path, headers, body, expected status) for the i-th of a phase
    def healthz(self, i: int) -> tuple[str, str, dict[str, str], Any, int]:
        return "GET", "/healthz", {}, None, 200

    def ask(self, i: int) -> tuple[str, str, dict[str, str], Any, int]:
        body = {"text": question_text(self.rng, i)}
        return "POST", f"/api/v1/events/{self.slug}/questions", self.askers[i] | self._ip(), body, 201

    def approve(self, i: int) -> tuple[str, str, dict[str, str], Any, int]:
        qid = self.pending[i]
        self.approved.append(qid)
        return "POST", self._q(qid, "actions"), self.mod, {"action": "approve"}, 200

    def vote(self, i: int) -> tuple[str, str, dict[str, str], Any, int]:
        # Each voter votes for ten questions in turn: every (voter, question) pair is new.
        voter, qid = self.voters[i // 10 % len(self.voters)], self.approved[i % len(self.approved)]
        return "PUT", self._q(qid, "vote"), voter, None, 200

    def answer(self, i: int) -> tuple[str, str, dict[str, str], Any, int]:
        body = {"action": "answered", "answer_text": f"第{i}问的书面答复：按规范执行。"}
        return "POST", self._q(self.approved[i], "actions"), self.mod, body, 200

    def _q(self, qid: int, what: str) -> str:
        return f"/api/v1/events/{self.slug}/questions/{qid}/{what}"

    async def run(self, phase: Phase, n: int, make: Callable[[int], tuple[str, str, dict[str, str], Any, int]],
                  concurrency: int) -> list[bytes]:  # fmt: skip
        assert self.proc is not None and self.load is not None
        load = self.load
        bodies: list[bytes] = [b""] * n
        queue = iter(range(n))

        async def worker() -> None:
            for i in queue:
                method, path, headers, body, want = make(i)
                t = time.perf_counter()
                status, data = await load.request(method, path, headers, body)
                phase.latencies_ms.append(1000 * (time.perf_counter() - t))
                if status != want:
                    key = f"HTTP {status} {data[:80]!r}"
                    phase.errors[key] = phase.errors.get(key, 0) + 1
                bodies[i] = data

        c0, t0 = cpu_seconds(self.proc.pid), time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        await asyncio.sleep(SETTLE_S)
        phase.cpu_s += cpu_seconds(self.proc.pid) - c0
        phase.wall_s += time.monotonic() - t0
        phase.count += n
        phase.load = load_avg()
        return bodies

    async def stop(self) -> None:
        if self.load is not None:
            await self.load.close()
        if self.http is not None:
            await self.http.aclose()
        stop_process(self.proc)


async def fresh_postgres(base_url: str, name: str, drop: bool = False) -> str:
    import asyncpg

    dsn = base_url.replace("postgresql+asyncpg://", "postgresql://")
    for attempt in range(60):  # a shared server may be out of connection slots for a while
        try:
            conn = await asyncpg.connect(dsn)
            break
        except asyncpg.TooManyConnectionsError:
            if attempt == 59:
                raise
            await asyncio.sleep(1.0)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base_url.rsplit("/", 1)[0] + "/" + name


PHASES = ("healthz", "ask", "approve", "vote", "answer")


async def measure(engine: str, trees: list[tuple[str, Path]], args: argparse.Namespace, tmp: Path) -> None:
    servers: list[Server] = []
    pg_names: list[str] = []
    try:
        for label, tree in trees:
            sub = tmp / f"{engine}-{label}"
            sub.mkdir()
            if engine == "sqlite":
                url = f"sqlite+aiosqlite:///{sub}/bench.db"
            else:
                name = f"bench_commands_{label}_{os.getpid()}"
                url = await fresh_postgres(args.postgres_url, name)
                pg_names.append(name)
            profile = args.profile / f"{engine}-{label}.prof" if args.profile else None
            server = Server(label, tree, url, sub, profile)
            servers.append(server)
            await server.start()
            await server.setup(args.n)
        results = {s.label: {p: Phase(p) for p in PHASES} for s in servers}
        for p in PHASES:  # each phase on every server in turn: both see the same moment's machine
            for s in servers:
                out = await s.run(results[s.label][p], args.n, getattr(s, p), 1 if p == "ask" else args.concurrency)
                if p == "ask":
                    import json

                    s.pending = [
                        int(json.loads(b)["id"]) for b in out if b and json.loads(b).get("status") == "pending"
                    ]
                    if len(s.pending) < args.n:
                        raise RuntimeError(f"{s.label}: only {len(s.pending)} of {args.n} questions pending")
        report(engine, servers, results, args)
    finally:
        for s in servers:
            await s.stop()
        for name in pg_names:
            await fresh_postgres(args.postgres_url, name, drop=True)


def report(engine: str, servers: list[Server], results: dict[str, dict[str, Phase]], args: argparse.Namespace) -> None:
    print(f"\n{engine}: {args.n} of each command, {args.concurrency} in flight, no viewers")
    head = f"{'command':<10}"
    for s in servers:
        head += f" | {s.label + ' CPU-ms':>16} {'x healthz':>9} {'p50 ms':>7} {'load 1/5/15':>15}"
    if len(servers) > 1:
        head += f" | {servers[0].label + '/' + servers[1].label:>14}"
    print(head)
    print("-" * len(head))
    for p in PHASES:
        line = f"{p:<10}"
        for s in servers:
            ph = results[s.label][p]
            base = results[s.label]["healthz"].cpu_ms
            line += (f" | {ph.cpu_ms:>16.3f} {ph.cpu_ms / base:>8.2f}x {statistics.median(ph.latencies_ms):>7.2f}"
                     f" {ph.load:>15}")  # fmt: skip
        if len(servers) > 1:
            a, b = results[servers[0].label][p].cpu_ms, results[servers[1].label][p].cpu_ms
            line += f" | {a / b:>13.2f}x"
        print(line)
    for s in servers:
        print(f"{s.label}: idle {s.idle_ms_per_s:.2f} CPU-ms/s")
        for p in PHASES:
            if results[s.label][p].errors:
                print(f"  {s.label} {p} errors: {results[s.label][p].errors}")
    own = results[servers[0].label]
    met = all(own[p].cpu_ms <= GOAL_MS for p in ("approve", "vote", "answer"))
    print(f"{servers[0].label}: approve / vote / answer ≤ {GOAL_MS:g} CPU-ms each: {'met' if met else 'NOT MET'}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=400, help="commands of each kind")
    parser.add_argument("--concurrency", type=int, default=1, help="commands in flight (ask: always 1)")
    parser.add_argument("--only", choices=["sqlite", "postgres"], help="one engine")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_PG),
                        help="a PostgreSQL server URL whose user may create databases")  # fmt: skip
    parser.add_argument("--profile", type=Path, help="run each server under cProfile, its stats into this directory")
    parser.add_argument("--compare", type=Path, help="also serve the same commands from this source tree")
    args = parser.parse_args()
    trees = [("this", ROOT)]
    if args.compare:
        trees.append(("compare", args.compare.resolve()))
    print(f"bench/commands.py: {os.cpu_count()} CPUs, load average {load_avg()} at start", flush=True)
    with tempfile.TemporaryDirectory(prefix="sitecast-commands-") as tmp:
        for engine in ("sqlite", "postgres"):
            if args.only in (None, engine):
                await measure(engine, trees, args, Path(tmp))
    print(f"\nload average {load_avg()} at end")


if __name__ == "__main__":
    asyncio.run(main())
