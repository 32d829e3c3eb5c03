from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from server.db.migrate import upgrade
from tests.support import ADMIN_TOKEN, LiveServer, create_pg_database, drop_pg_database, free_port, live_server

# CI and `make test` set TEST_POSTGRES_URL; a bare `pytest` falls back to the local service.
PG_BASE = os.environ.get("TEST_POSTGRES_URL") or os.environ.get(
    "DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
if not PG_BASE.startswith("postgresql"):
    PG_BASE = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'sitecast.db'}"
        upgrade(url)
        yield url
        return
    url = await create_pg_database(PG_BASE)
    try:
        upgrade(url)
        yield url
    finally:
        await drop_pg_database(PG_BASE, url)


@pytest.fixture(scope="session")
async def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    async with live_server(database_url=database_url, media_dir=tmp_path_factory.mktemp("media")) as s:
        yield s


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as c:
        yield c


ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def admin() -> dict[str, str]:
    return dict(ADMIN)


def unique_slug(prefix: str = "ev") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def event(client: httpx.AsyncClient) -> dict[str, Any]:
    """A fresh scheduled live-Q&A event (open join) for one test."""
    response = await client.post(
        "/api/v1/events",
        json={
            "slug": unique_slug(),
            "title_zh": "基坑开挖答疑",
            "title_en": "Pit excavation Q&A",
            "topics": ["基坑", "沉降监测"],
        },
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """REDIS_URL when given (CI); else a private redis-server on a free port; skip only if neither exists."""
    given = os.environ.get("REDIS_URL")
    if given:
        yield given
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no REDIS_URL and no redis-server installed")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path_factory.mktemp("redis")),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """In CI nothing may skip: a missing browser, codec or service is a failed install, not a pass."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI (must run here): {report.longrepr}"
