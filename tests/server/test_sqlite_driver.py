"""The embedded SQLite driver (server/db/sqlite_driver.py) through SQLAlchemy, as the app uses it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.db import sqlite_driver
from server.db.engine import make_engine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE NOT NULL, n INTEGER DEFAULT 0)"))
    yield engine
    await engine.dispose()


async def test_pragmas_rows_counts_and_returning(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        inserted = await conn.execute(text("INSERT INTO t (v) VALUES ('基坑')"))
        assert (inserted.lastrowid, inserted.rowcount) == (1, 1)
        many = await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "沉降"}, {"v": "监测"}])
        assert many.rowcount == 2
        returned = await conn.execute(text("UPDATE t SET n = n + 1 WHERE v != '基坑' RETURNING v, n"))
        assert sorted(returned.all()) == [("沉降", 1), ("监测", 1)]
        updated = await conn.execute(text("UPDATE t SET n = 5"))
        assert updated.rowcount == 3
        assert (await conn.execute(text("SELECT v FROM t WHERE n = 99"))).first() is None
        assert [r.v for r in await conn.execute(text("SELECT v FROM t ORDER BY id"))] == ["基坑", "沉降", "监测"]


async def test_errors_surface_and_roll_back(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (v) VALUES ('b')"))
            await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))  # unique: the whole transaction goes
    with pytest.raises(OperationalError):
        async with engine.connect() as conn:
            await conn.execute(text("SELECT nope FROM t"))
    async with engine.connect() as conn:
        assert [r.v for r in await conn.execute(text("SELECT v FROM t"))] == ["a"]


async def test_concurrent_writers_all_land(engine: AsyncEngine) -> None:
    async def write(i: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": f"q{i}"})
            await conn.execute(text("UPDATE t SET n = n + 1 WHERE v = :v"), {"v": f"q{i}"})

    await asyncio.gather(*(write(i) for i in range(40)))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*), sum(n) FROM t"))).one() == (40, 40)


async def test_one_hand_over_per_statement(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    jobs: list[str] = []
    original = sqlite_driver.Connection._execute

    async def counted(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        jobs.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(sqlite_driver.Connection, "_execute", counted)
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))  # the connection's BEGIN happens inside sqlite3, no extra job
        jobs.clear()
        rows = (await conn.execute(text("SELECT v FROM t"))).all()
        await conn.execute(text("INSERT INTO t (v) VALUES ('x')"))
        await conn.commit()
    # The pool's rollback on return found no transaction open: no trip for it.
    assert rows == []
    assert jobs == ["_run", "_run", "commit"], jobs
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT v FROM t"))).scalar_one() == "x"
        await conn.rollback()  # only read: nothing open in SQLite, nothing to do
    assert jobs == ["_run", "_run", "commit", "_run"], jobs


async def test_rollback_undoes_an_open_write(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("INSERT INTO t (v) VALUES ('gone')"))
        await conn.rollback()
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
