"""aiosqlite with one hand-over to the connection's thread per statement, instead of four.

SQLAlchemy's aiosqlite adapter asks for a cursor, executes, fetches the rows and closes the cursor: with
stock aiosqlite each of those is a trip to the connection's thread and back (a queue put, a thread wake-up,
a `call_soon_threadsafe` wake-up of the loop). A moderator's approval or a vote runs five statements and
a commit, so on the embedded SQLite default those trips cost more CPU than the statements themselves and
compete with the WebSocket fan-out for the two cores (bench/README.md, "commands").

Here the cursor is created, the statement executed, every row fetched and the cursor closed in one job on
the thread; the adapter then reads rows, description, rowcount and lastrowid from memory. Commit and
rollback skip the trip when no transaction is open. The connection is otherwise aiosqlite's own (thread,
queue, close); its cursors keep the DB-API surface the adapter uses. Rows are always fetched at once, which is what the
adapter does anyway for every cursor that is not server-side (we use none).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import aiosqlite
from sqlalchemy.engine import URL
from sqlalchemy.engine.interfaces import Dialect

_Outcome = tuple[Any, int, int | None, list[Any]]


def _run(conn: sqlite3.Connection, sql: str, parameters: Any) -> _Outcome:  # on the connection's thread
    cursor = conn.cursor()
    try:
        cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _run_many(conn: sqlite3.Connection, sql: str, seq_of_parameters: Iterable[Any]) -> _Outcome:
    cursor = conn.cursor()
    try:
        cursor.executemany(sql, seq_of_parameters)
        return cursor.description, cursor.rowcount, cursor.lastrowid, []
    finally:
        cursor.close()


class Cursor:
    """The DB-API cursor surface SQLAlchemy's aiosqlite adapter uses, each statement one job on the thread."""

    arraysize = 1

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Any = None) -> Cursor:
        self._take(await self._conn.run(_run, sql, () if parameters is None else parameters))
        return self

    async def executemany(self, sql: str, seq_of_parameters: Iterable[Any]) -> Cursor:
        self._take(await self._conn.run(_run_many, sql, seq_of_parameters))
        return self

    def _take(self, outcome: _Outcome) -> None:
        self.description, self.rowcount, self.lastrowid, rows = outcome
        self._rows = rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        size = self.arraysize if size is None else size
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def fetchall(self) -> Sequence[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def close(self) -> None:
        self._rows = []


class Connection(aiosqlite.Connection):
    """aiosqlite's connection (thread, queue, commit, rollback, close) with the cursors above."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int = 64) -> None:
        super().__init__(connector, iter_chunk_size)
        self._thread.daemon = True  # as SQLAlchemy sets it for stock aiosqlite: never holds up exit

    def cursor(self) -> Cursor:  # type: ignore[override]
        return Cursor(self)

    # No trip to the thread when SQLite has no transaction open: a session that only read (sqlite3 begins
    # at the first write), and the pool's rollback-on-return after every commit. No job of this connection
    # is running meanwhile (the adapter awaits each in turn), so reading the flag here is safe.
    async def commit(self) -> None:
        if self._idle():
            return
        await super().commit()

    async def rollback(self) -> None:
        if self._idle():
            return
        await super().rollback()

    def _idle(self) -> bool:
        conn = self._connection
        return conn is not None and not conn.in_transaction

    async def run(self, job: Callable[..., _Outcome], *args: Any) -> _Outcome:
        return await self._execute(job, self._conn, *args)  # type: ignore[no-any-return]


def connect(dialect: Dialect, url: URL, **connect_args: Any) -> Awaitable[Connection]:
    """For `create_async_engine(async_creator=…)`: a connection opened as the dialect would open it."""
    cargs, cparams = dialect.create_connect_args(url)
    cparams = {**cparams, **connect_args}
    return Connection(lambda: sqlite3.connect(*cargs, **cparams))
