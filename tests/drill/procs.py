"""Sitecast as the Procfile runs it (`python -m server web`), in its own process, for the drill's probes."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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


class CuttableProxy:
    """TCP between the web process and PostgreSQL; `cut` drops every connection and refuses new ones."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.cut_off = False
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    def cut(self) -> None:
        self.cut_off = True
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    def restore(self) -> None:
        self.cut_off = False

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if self.cut_off:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._links |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
        self._links.discard(writer)


@asynccontextmanager
async def web_process_behind_cuttable_postgresql(tmp_path: Path) -> AsyncIterator[tuple[Node, CuttableProxy, str]]:
    """One web process on a fresh PostgreSQL database reached through a `CuttableProxy` (its restart, played
    without `pg_ctl`); yields the process, the proxy and the database's own URL."""
    database = await create_pg_database(PG_BASE)
    upgrade(database)
    parts = urlsplit(database)
    proxy = CuttableProxy(parts.port or 5432)
    await proxy.start()
    proxied = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    env = {
        "DATABASE_URL": proxied,
        "SECRET_KEY": "drill-secret",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "MEDIA_DIR": str(tmp_path / "media"),
        "JOIN_RATE_PER_MINUTE": "100000",
        "ASK_RATE_PER_MINUTE": "100000",
    }
    node = Node(env, tmp_path / "web.log")
    try:
        await ready(node)
        yield node, proxy, database
    finally:
        await asyncio.to_thread(node.stop)  # the proxy lives on this loop: keep it running meanwhile
        await proxy.close()
        await drop_pg_database(PG_BASE, database)
