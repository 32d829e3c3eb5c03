"""The async engine and session factory, built in the app lifespan (never at import)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from server.db import sqlite_driver
from server.db.direct import Direct, direct_for


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        # One hand-over to the connection's thread per statement (sqlite_driver.py), not four.
        engine = create_async_engine(
            url, async_creator=lambda: sqlite_driver.connect(engine.dialect, make_url(url), timeout=30)
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers proceed during a write; foreign keys are off by default in SQLite.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


class Database:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # The hot question commands' own connections (direct.py), opened at their first use.
        self.direct: Direct = direct_for(self.engine.url, self.engine.dialect)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.direct.close()
        await self.engine.dispose()
