"""Sitecast as the Procfile runs it (`python -m server web`), in its own process, for the drill's probes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from server.db.migrate import upgrade
from tests.conftest import PG_BASE
from tests.server.test_scale_out import Node
from tests.support import ADMIN_TOKEN, create_pg_database, drop_pg_database, wait_for


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def ready(node: Node, within: float = 90) -> None:
    """Up and answering; a cold start imports the media stack, which takes a while on a busy 2-core machine."""

    async def up() -> bool:
        assert node.proc.poll() is None, "server process exited"
        try:
            async with httpx.AsyncClient() as c:
                return (await c.get(f"{node.base_url}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    await wait_for(up, within, interval=0.1, message=f"web process on {node.port}")


@asynccontextmanager
async def web_process(tmp_path: Path, **env: str) -> AsyncIterator[Node]:
    """One web process on a fresh SQLite database (no Redis)."""
    database = f"sqlite+aiosqlite:///{tmp_path / 'web.db'}"
    upgrade(database)
    node = Node(
        {
            "DATABASE_URL": database,
            "SECRET_KEY": "drill-secret",
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "MEDIA_DIR": str(tmp_path / "media"),
            "JOIN_RATE_PER_MINUTE": "100000",
            "ASK_RATE_PER_MINUTE": "100000",
            **env,
        },
        tmp_path / "web.log",
    )
    try:
        await ready(node)
        yield node
    finally:
        node.stop()


@asynccontextmanager
async def two_web_processes(redis_url: str, tmp_path: Path, **env: str) -> AsyncIterator[tuple[Node, Node]]:
    """Two web processes sharing a fresh PostgreSQL database and a private prefix of one Redis."""
    database = await create_pg_database(PG_BASE)
    upgrade(database)
    shared = {
        "DATABASE_URL": database,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": f"d{uuid.uuid4().hex[:8]}",
        "SECRET_KEY": "drill-secret",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "MEDIA_DIR": str(tmp_path / "media"),
        **env,
    }
    a, b = Node(shared, tmp_path / "a.log"), Node(shared, tmp_path / "b.log")
    try:
        await asyncio.gather(ready(a), ready(b))
        yield a, b
    finally:
        a.stop()
        b.stop()
        await drop_pg_database(PG_BASE, database)
