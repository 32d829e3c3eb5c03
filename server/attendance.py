"""Attendance recorder: viewer connections become spans in memory, written to the database in batches.

The WebSocket endpoint calls `joined` when a viewer connects and `left` when the socket goes away. One span
is kept per (event, viewer, mode) with a connection count, so several tabs and a reconnect inside the grace
period stay one span. A periodic flush (owned by the app lifespan, and once more at shutdown) inserts new
spans, closes finished ones and refreshes `seen_at` of the open ones in one transaction: a handful of
statements per interval whatever the audience, never a write per connection or heartbeat.

Each process records only its own connections; reports merge spans across processes (archive/attendance.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, update

from archive.attendance import LIVE, MODES
from server.db.direct import Statement
from server.db.engine import Database
from server.db.models import AttendanceSpan

log = logging.getLogger("sitecast.attendance")

_SPANS = AttendanceSpan.__table__.c
_INSERT = Statement(
    "INSERT INTO attendance_spans (event_id, participant_id, visitor, mode, started_at, ended_at, seen_at, node)"
    " VALUES (:event_id, :participant_id, :visitor, :mode, :started_at, :ended_at, :seen_at, :node) RETURNING id",
    columns=[_SPANS.id],
    binds={"started_at": _SPANS.started_at, "ended_at": _SPANS.ended_at, "seen_at": _SPANS.seen_at},
)
_END = Statement("UPDATE attendance_spans SET ended_at = :ended_at WHERE id = :id", binds={"ended_at": _SPANS.ended_at})
_SEEN = Statement(
    "UPDATE attendance_spans SET seen_at = :seen_at WHERE node = :node AND ended_at IS NULL",
    binds={"seen_at": _SPANS.seen_at},
)

# A visitor id is the browser's own random token (attendance.js); anything else is ignored.
VISITOR_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,40}$")

Key = tuple[int, str, str]  # (event id, viewer, mode)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(eq=False)
class _Span:
    event_id: int
    participant_id: int | None
    visitor: str | None
    mode: str
    started: datetime
    connections: int = 0
    left: datetime | None = None  # when the last connection went away (the grace period runs from here)
    span_id: int | None = None  # the row, once written


def parse_mode(value: str | None) -> str:
    return value if value in MODES else LIVE


def parse_visitor(value: str | None) -> str | None:
    return value if value and VISITOR_PATTERN.match(value) else None


class AttendanceRecorder:
    def __init__(
        self,
        db: Database,
        flush_seconds: float,
        grace_seconds: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.flush_seconds = flush_seconds
        self.grace = timedelta(seconds=grace_seconds)
        self.clock = clock
        # This process's name on its rows: the open-span refresh touches only its own.
        self.node = secrets.token_hex(8)
        self._open: dict[Key, _Span] = {}
        self._closing: list[_Span] = []  # out of `_open`, not yet written (a failed flush retries them)
        self._anonymous = itertools.count(1)
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    # lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="attendance-flush")

    async def close(self) -> None:
        """Stop the loop and write everything: spans still open end now (this process is going away)."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            await self.flush(final=True)
        except Exception:
            log.exception("attendance: the last flush failed; the open spans end where they were last seen")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_seconds)
            try:
                await self.flush()
            except Exception:  # the next round retries; a report only misses the last few seconds
                log.exception("attendance flush failed")

    # connections -----------------------------------------------------------------------------------
    def joined(
        self, event_id: int, participant_id: int | None, visitor: str | None, mode: str, at: datetime | None = None
    ) -> Key | None:
        """Count one more connection of this viewer; returns the key to pass to `left`."""
        if self._closed:
            return None
        if participant_id is not None:
            viewer, visitor = f"p:{participant_id}", None
        elif visitor is not None:
            viewer = f"v:{visitor}"
        else:
            viewer = f"c:{next(self._anonymous)}"  # cannot be recognised again: its own span
        key = (event_id, viewer, mode)
        span = self._open.get(key)
        if span is None:
            span = self._open[key] = _Span(event_id, participant_id, visitor, mode, at or self.clock())
        span.connections += 1
        span.left = None
        return key

    def left(self, key: Key | None, at: datetime | None = None) -> None:
        span = self._open.get(key) if key is not None else None
        if span is None:
            return
        span.connections -= 1
        if span.connections <= 0:
            span.connections = 0
            span.left = at or self.clock()

    def open_viewers(self, event_id: int) -> int:
        return sum(1 for (eid, _, _), s in self._open.items() if eid == event_id and s.connections > 0)

    # writing ---------------------------------------------------------------------------------------
    async def flush(self, final: bool = False) -> None:
        async with self._lock:
            now = self.clock()
            for key, span in list(self._open.items()):
                if final or (span.connections == 0 and span.left is not None and now - span.left >= self.grace):
                    del self._open[key]
                    span.left = span.left or now
                    self._closing.append(span)
            closing = list(self._closing)
            ending = set(closing)
            fresh = [s for s in self._open.values() if s.span_id is None]
            known_open = any(s.span_id is not None for s in self._open.values())
            inserts = fresh + [s for s in closing if s.span_id is None]
            ends = [{"id": s.span_id, "ended_at": s.left} for s in closing if s.span_id is not None]
            if not inserts and not ends and not known_open:
                return
            direct = self.db.direct
            if direct.dialect == "sqlite" and direct.usable:
                ids = await self._write_sqlite(inserts, ends, known_open, now, ending)
            else:
                ids = await self._write(inserts, ends, known_open, now, ending)
            for span, span_id in zip(inserts, ids, strict=True):
                span.span_id = span_id
            self._closing = [s for s in self._closing if s not in ending]

    def _row(self, span: _Span, now: datetime, ending: set[_Span]) -> dict[str, object]:
        return {
            "event_id": span.event_id,
            "participant_id": span.participant_id,
            "visitor": span.visitor,
            "mode": span.mode,
            "started_at": span.started,
            "ended_at": span.left if span in ending else None,
            "seen_at": now,
            "node": self.node,
        }

    async def _write(
        self, inserts: list[_Span], ends: list[dict[str, object]], known_open: bool, now: datetime, ending: set[_Span]
    ) -> list[int]:
        async with self.db.session() as session:
            ids: list[int] = []
            if inserts:
                # One multi-row INSERT … RETURNING (ids in parameter order), not a unit of work per span:
                # 5,000 viewers arriving for the start write in tens of milliseconds, not a second of loop.
                result = await session.execute(
                    insert(AttendanceSpan).returning(AttendanceSpan.id, sort_by_parameter_order=True),
                    [self._row(s, now, ending) for s in inserts],
                )
                ids = list(result.scalars())
            if ends:
                await session.execute(update(AttendanceSpan), ends)
            if known_open:
                await session.execute(
                    update(AttendanceSpan)
                    .where(AttendanceSpan.node == self.node, AttendanceSpan.ended_at.is_(None))
                    .values(seen_at=now)
                )
            await session.commit()
        return ids

    async def _write_sqlite(
        self, inserts: list[_Span], ends: list[dict[str, object]], known_open: bool, now: datetime, ending: set[_Span]
    ) -> list[int]:
        """The same writes in one hand-over to a SQLite connection's thread (server/db/direct.py). Through the
        ORM, the 5,000 inserts of an audience's arrival held SQLite's one write lock across every await
        between its round trips, each waiting behind the fan-out to those viewers: a moderator's approval
        waited ~0.5 s for it (bench/ws_fanout.py, command p99 405-465 ms; 11 ms without the flush)."""
        steps: list[tuple[Statement, list[dict[str, object]]]] = [
            (_INSERT, [self._row(s, now, ending) for s in inserts]),
            (_END, ends),
        ]
        if known_open:
            steps.append((_SEEN, [{"seen_at": now, "node": self.node}]))
        rows = await self.db.direct.sqlite_many(steps)
        return [row[0] for row in rows[0]]
