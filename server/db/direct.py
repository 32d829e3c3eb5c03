"""Driver connections held for the hot commands: plain SQL, each command's statements in few trips.

A moderator's approval or a viewer's vote through the ORM cost ~4 CPU-ms (bench/commands.py): a pool
checkout with its pre-ping, the session, the unit of work, a trip to aiosqlite's thread for every
statement. Here the question commands (server/questions/hot.py) run their few statements on a connection
this module holds, with the values converted by the column types below:

- SQLite: one connection of our own (its own aiosqlite thread, the engine's pragmas); `batch` runs a
  command's reads, or its writes and the commit, in ONE hand-over to that thread.
- PostgreSQL: asyncpg connections kept open (up to `PG_CONNECTIONS`), checked for life by asyncpg's own
  `is_closed()` (the server closing the socket: a restart, a dropped proxy) instead of a pre-ping round trip.

Either engine being away is a 503 `unavailable`, as on the ORM path (server/errors.py); the next command
opens a fresh connection.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple

import asyncpg
from sqlalchemy import JSON, Boolean, ColumnElement, FromClause
from sqlalchemy.engine import URL

from server.db import sqlite_driver
from server.db.models import UTCDateTime
from server.errors import RETRY_UNAVAILABLE_S, ApiError

# Commands of one process use at most this many PostgreSQL connections at once (each command holds one
# for its few round trips, ~1 ms); the ORM pool (10 + 20) serves everything else.
PG_CONNECTIONS = 4
_PARAM = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")


def unavailable() -> ApiError:
    # The same answer as server/errors.py's unavailable_response for the ORM path.
    return ApiError(
        503,
        "unavailable",
        "the service is briefly unavailable; try again shortly",
        retry_after=RETRY_UNAVAILABLE_S,
    )


_Convert = Callable[[Any], Any]


# values ---------------------------------------------------------------------------------------------------
def _sqlite_dt(value: datetime | None) -> str | None:
    # SQLAlchemy's SQLite DATETIME storage format, UTC without zone (models.UTCDateTime).
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _read_sqlite_dt(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def _read_pg_dt(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _json(value: Any) -> Any:
    return None if value is None else json.dumps(value)  # as SQLAlchemy's JSON type writes it


def _read_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def kind(column: ColumnElement[Any]) -> str:
    if isinstance(column.type, UTCDateTime):
        return "dt"
    if isinstance(column.type, Boolean):
        return "bool"
    if isinstance(column.type, JSON):
        return "json"
    return "plain"


_WRITE: dict[str, dict[str, _Convert]] = {
    "sqlite": {"dt": _sqlite_dt, "bool": lambda v: None if v is None else int(v), "json": _json},
    "postgresql": {"json": _json},
}
_READ: dict[str, dict[str, _Convert]] = {
    "sqlite": {"dt": _read_sqlite_dt, "bool": lambda v: None if v is None else bool(v), "json": _read_json},
    "postgresql": {"dt": _read_pg_dt, "json": _read_json},
}


class _Compiled(NamedTuple):
    sql: str
    order: list[str]
    write: list[_Convert | None]
    read: list[_Convert | None]


class Statement:
    """One SQL text with `:name` parameters, written once for both engines; `columns` are what it returns
    (for converting values read), `binds` the column each parameter is written to (for converting values
    written; a parameter not named there is passed as it is)."""

    def __init__(
        self,
        sql: str,
        columns: Sequence[ColumnElement[Any]] = (),
        binds: Mapping[str, ColumnElement[Any]] | None = None,
    ) -> None:
        self.sql = sql
        self.names = _PARAM.findall(sql)
        self.columns = tuple(columns)
        self.binds = dict(binds or {})
        self._compiled: dict[str, _Compiled] = {}

    def compiled(self, dialect: str) -> _Compiled:
        found = self._compiled.get(dialect)
        if found is None:
            order: list[str] = []

            def place(m: re.Match[str]) -> str:
                name = m.group(1)
                if dialect == "sqlite":
                    order.append(name)
                    return "?"
                if name not in order:
                    order.append(name)
                column = self.binds.get(name)
                cast = "::json" if column is not None and kind(column) == "json" else ""
                return f"${order.index(name) + 1}{cast}"

            sql = _PARAM.sub(place, self.sql)
            writes, reads = _WRITE[dialect], _READ[dialect]
            write = [writes.get(kind(self.binds[n])) if n in self.binds else None for n in order]
            read = [reads.get(kind(c)) for c in self.columns]
            found = self._compiled[dialect] = _Compiled(sql, order, write, read)
        return found

    def args(self, dialect: str, params: Mapping[str, Any]) -> tuple[str, list[Any], list[_Convert | None]]:
        c = self.compiled(dialect)
        values = [params[n] for n in c.order]
        return c.sql, [v if f is None else f(v) for v, f in zip(values, c.write, strict=True)], c.read


def convert(rows: Sequence[Sequence[Any]], read: list[_Convert | None]) -> list[tuple[Any, ...]]:
    if not any(read):
        return [tuple(r) for r in rows]
    return [tuple(v if f is None else f(v) for v, f in zip(r, read, strict=False)) for r in rows]


def columns(table: FromClause, names: Sequence[str], alias: str) -> tuple[str, list[ColumnElement[Any]]]:
    """`alias.a, alias.b …` and the columns, for a select list."""
    cols = [table.c[n] for n in names]
    return ", ".join(f"{alias}.{n}" for n in names), cols


# connections ------------------------------------------------------------------------------------------------
Batch = Sequence[tuple[Statement, Mapping[str, Any]]]


class Direct:
    """The held connections of one process for one database URL (built lazily, closed with the Database)."""

    def __init__(self, url: URL, connect_args: tuple[Sequence[Any], Mapping[str, Any]]) -> None:
        self.dialect = "sqlite" if url.get_backend_name() == "sqlite" else "postgresql"
        self._url = url
        self._cargs, self._cparams = connect_args
        self._sqlite: sqlite_driver.Connection | None = None
        self._sqlite_opening: asyncio.Lock = asyncio.Lock()
        self._idle: list[asyncpg.Connection] = []
        self._slots = asyncio.Semaphore(PG_CONNECTIONS)
        self._closed = False

    @property
    def usable(self) -> bool:
        """False for an in-memory SQLite database: a second connection would be another, empty database."""
        return self.dialect == "postgresql" or self._url.database not in (None, "", ":memory:")

    # SQLite -----------------------------------------------------------------------------------------------
    async def _sqlite_conn(self) -> sqlite_driver.Connection:
        if self._sqlite is not None:
            return self._sqlite
        async with self._sqlite_opening:
            if self._sqlite is None:
                cargs, cparams = self._cargs, {**self._cparams, "timeout": 30, "isolation_level": None}

                def connect() -> sqlite3.Connection:
                    conn = sqlite3.connect(*cargs, **cparams)
                    # The engine's pragmas (server/db/engine.py): WAL, foreign keys on, NORMAL sync.
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA foreign_keys=ON")
                    conn.execute("PRAGMA synchronous=NORMAL")
                    return conn

                conn = sqlite_driver.Connection(connect)
                await conn
                self._sqlite = conn
            return self._sqlite

    async def sqlite_batch(self, batch: Batch, write: bool) -> list[list[tuple[Any, ...]]]:
        """Run the statements in order in one hand-over to the connection's thread; `write`: inside
        BEGIN IMMEDIATE … COMMIT (rolled back if any raises)."""
        return await self._sqlite_run([(stmt, [params]) for stmt, params in batch], write)

    async def sqlite_many(
        self, steps: Sequence[tuple[Statement, Sequence[Mapping[str, Any]]]]
    ) -> list[list[tuple[Any, ...]]]:
        """Each statement once per parameter set, in order, in one transaction and ONE hand-over to the
        connection's thread: SQLite's write lock is held only while SQLite works, never while the event loop
        does other things between round trips (other writers, the hot commands among them, wait meanwhile).
        The rows each statement returned, all its runs together."""
        return await self._sqlite_run(steps, write=True)

    async def _sqlite_run(
        self, steps: Sequence[tuple[Statement, Sequence[Mapping[str, Any]]]], write: bool
    ) -> list[list[tuple[Any, ...]]]:
        prepared = [(stmt.compiled("sqlite").read, [stmt.args("sqlite", p)[:2] for p in runs]) for stmt, runs in steps]
        conn = await self._sqlite_conn()

        def job(db: sqlite3.Connection) -> Any:
            out: list[list[Any]] = []
            if write:
                db.execute("BEGIN IMMEDIATE")
            try:
                for _read, runs in prepared:
                    rows: list[Any] = []
                    for sql, values in runs:
                        rows += db.execute(sql, values).fetchall()
                    out.append(rows)
                if write:
                    db.execute("COMMIT")
            except BaseException:
                if write and db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            return out

        try:
            rows = await conn.run(job)
        except sqlite3.OperationalError:
            raise unavailable() from None  # locked past its timeout, or the file is gone: as on the ORM path
        return [convert(r, read) for r, (read, _runs) in zip(rows, prepared, strict=True)]

    # PostgreSQL ----------------------------------------------------------------------------------------------
    @asynccontextmanager
    async def pg(self) -> AsyncIterator[asyncpg.Connection]:
        """An open asyncpg connection for one command; a connection that failed is dropped, not reused."""
        async with self._slots:
            conn = None
            while self._idle and conn is None:
                candidate = self._idle.pop()
                if candidate.is_closed():
                    candidate.terminate()
                else:
                    conn = candidate
            try:
                if conn is None:
                    try:
                        conn = await asyncpg.connect(*self._cargs, **self._cparams)
                    except (asyncpg.PostgresError, TimeoutError) as exc:
                        # Starting up, shutting down, out of connection slots: away for now, as on the ORM path.
                        raise unavailable() from exc
                yield conn
            except (OSError, asyncpg.PostgresConnectionError, asyncpg.OperatorInterventionError) as exc:
                # The server went away (restart, dropped proxy, admin shutdown) mid-command: 503, fresh next time.
                if conn is not None:
                    conn.terminate()
                    conn = None
                raise unavailable() from exc
            except asyncpg.InterfaceError as exc:
                lost = conn is None or conn.is_closed()  # "connection was closed in the middle of operation"
                if conn is not None:
                    conn.terminate()
                    conn = None
                if not lost:
                    raise  # a misuse, not the engine being away
                raise unavailable() from exc
            except BaseException:
                if conn is not None and not conn.is_closed() and conn.is_in_transaction():
                    # A command refused half-way: its transaction is rolled back before anyone reuses it.
                    try:
                        await conn.execute("ROLLBACK")
                    except BaseException:
                        conn.terminate()
                        conn = None
                raise
            finally:
                if conn is not None:
                    if self._closed or conn.is_closed():
                        conn.terminate()
                    else:
                        self._idle.append(conn)

    async def pg_fetch(
        self, conn: asyncpg.Connection, stmt: Statement, params: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        sql, values, read = stmt.args("postgresql", params)
        return convert(await conn.fetch(sql, *values), read)

    # both -----------------------------------------------------------------------------------------------------
    async def close(self) -> None:
        self._closed = True
        if self._sqlite is not None:
            conn, self._sqlite = self._sqlite, None
            await conn.close()
        idle, self._idle = self._idle, []
        for conn in idle:
            try:
                await asyncio.wait_for(conn.close(), 2.0)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                conn.terminate()


def direct_for(url: URL, dialect: Any) -> Direct:
    cargs, cparams = dialect.create_connect_args(url)
    return Direct(url, (cargs, cparams))
