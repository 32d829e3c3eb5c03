"""Test support: real servers on 127.0.0.1, real databases, polling with timeouts (never sleep-and-hope)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import uvicorn

from server.app import create_app
from server.protocols import uvicorn_options
from server.settings import Settings

ADMIN_TOKEN = "test-admin-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_for(
    predicate: Callable[[], Awaitable[Any]] | Callable[[], Any],
    timeout: float = 10.0,
    interval: float = 0.02,
    message: str = "condition",
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        await asyncio.sleep(interval)


def postgres_admin_dsn(url: str) -> str:
    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://"))
    return urlunsplit(parts)


async def create_pg_database(base_url: str) -> str:
    """A fresh database beside the one in `base_url`, so runs never see each other's rows."""
    name = f"sitecast_t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(postgres_admin_dsn(base_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def drop_pg_database(base_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(postgres_admin_dsn(base_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


class LiveServer:
    def __init__(self, settings: Settings, deflate: bool = False) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.base_url = f"http://127.0.0.1:{settings.port}"
        self.ws_url = f"ws://127.0.0.1:{settings.port}"
        options = {**uvicorn_options(settings), "log_level": "warning", "lifespan": "on"}
        # Served as `make run` and the Procfile serve it; deflate off unless a test asks.
        options["ws_per_message_deflate"] = deflate
        config = uvicorn.Config(self.app, host="127.0.0.1", port=settings.port, **options)
        self.server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.server.serve())
        await wait_for(lambda: self.server.started or self._task.done(), 20, message="server start")
        if self._task.done():
            self._task.result()
            raise RuntimeError("server stopped during start")

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            await asyncio.wait_for(self._task, 20)


@asynccontextmanager
async def live_server(deflate: bool = False, **overrides: Any) -> AsyncIterator[LiveServer]:
    # Every test client comes from 127.0.0.1: per-address limits are generous unless a test sets them.
    # Live captions run Whisper on every published voice: only tests that ask for them pay for it.
    limits = {"join_rate_per_minute": 100_000, "ask_rate_per_minute": 100_000, "live_captions": False}
    settings = Settings(port=free_port(), admin_token=ADMIN_TOKEN, secret_key="test-secret", **{**limits, **overrides})
    server = LiveServer(settings, deflate=deflate)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


class WsClient:
    """A WebSocket client that records every frame it receives (the test's view of what a browser sees)."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = headers or {}
        self.frames: list[dict[str, Any]] = []
        self.ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self.closed_code: int | None = None

    async def connect(self, last_id: int | None = None) -> WsClient:
        import websockets

        self.ws = await websockets.connect(self.url, additional_headers=self.headers, max_size=2**24)
        await self.ws.send(json.dumps({"type": "hello", "last_id": last_id}))
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        import websockets

        try:
            async for message in self.ws:
                self.frames.append(json.loads(message))
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed_code = self.ws.close_code

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await self._reader

    def of_type(self, frame_type: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == frame_type]

    @property
    def last_id(self) -> int:
        return max(f["id"] for f in self.frames if "id" in f)

    def numbered(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if "id" in f and f["type"] != "snapshot"]

    async def wait(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0, message: str = "frame"
    ) -> dict[str, Any]:
        found: dict[str, Any] = await wait_for(
            lambda: next((f for f in self.frames if predicate(f)), None), timeout, message=message
        )
        return found
