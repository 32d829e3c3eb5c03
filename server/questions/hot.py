"""The hot commands — a moderator's approve / edit / reject / reopen / reorder / answered, and votes —
on held driver connections (server/db/direct.py) instead of the ORM session: ≤ 2 CPU-ms each.

Each command reads what it needs in ONE statement — the event by slug, the caller's participant row, the
question and its asker — and writes in one batch:

- SQLite: one hand-over to the connection's thread for the read, one for the writes with the audit rows
  and the commit (BEGIN IMMEDIATE). Commands of one event in this process are serialised by the
  service's event lock, as on the ORM path.
- PostgreSQL: a moderator action is BEGIN, the read with `FOR UPDATE OF e` (the event row lock the ORM
  path takes, so actions from several processes stay serialised), one statement updating the question and
  inserting its audit rows, COMMIT. A vote is the read and one statement (insert the vote, bump the count,
  `RETURNING` it), each atomic by itself.

Behaviour is the ORM path's (server/questions/service.py): the same checks in the same order, the same
domain functions, the same columns written (only those that changed: a concurrent vote's count is never
overwritten), the same audit rows and frames. The other actions (pin, answering, merge) need more rows
and stay there; `act` answers None for them and the route runs the ORM path.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import asyncpg
from sqlalchemy import Integer
from starlette.requests import Request

from moderation import commands
from moderation.errors import Refused
from moderation.events import AuditEntry, Outcome
from moderation.model import Question as DomainQuestion
from server.auth import STAFF, Principal, Role, Tokens, require, resolve_principal, wanted_participant
from server.db import models
from server.db.direct import Direct, Statement, columns, kind
from server.errors import ApiError, not_found
from server.questions.actions import actor_for, refused, simple_action
from server.questions.mapping import row_values, to_domain
from server.schemas_questions import ActionRequest
from server.services.events import valid_slug

if TYPE_CHECKING:
    from server.questions.service import QuestionService

log = logging.getLogger("sitecast.questions")
VIEWERS_AND_STAFF = frozenset({Role.VIEWER, Role.EXPERT, Role.MODERATOR, Role.ADMIN})
FAST_ACTIONS = frozenset({"approve", "edit", "reject", "reopen", "reorder", "answered"})

_E = models.Event.__table__
_P = models.Participant.__table__
_Q = models.Question.__table__
_A = models.AuditLog.__table__
_V = models.Vote.__table__

P_NAMES = (
    "id", "event_id", "role", "name", "organisation", "stakeholder", "anonymous", "standing",
    "token_nonce", "expires_at", "revoked_at",
)  # fmt: skip
Q_NAMES = (
    "id", "event_id", "asker_id", "text", "status", "created_at", "anonymous", "votes", "askers",
    "original_text", "reason_code", "reason_text", "merged_into", "pinned", "position", "answering_at",
    "answered_at", "answer_text", "approved_at", "pre_submitted", "topic", "duplicate_of", "held_reason",
)  # fmt: skip
_p_sql, _p_cols = columns(_P, P_NAMES, "p")
_q_sql, _q_cols = columns(_Q, Q_NAMES, "q")
_a_sql, _a_cols = columns(_P, P_NAMES, "a")
_LOOKUP_SQL = f"""SELECT e.id, {_p_sql}, {_q_sql}, {_a_sql}
FROM events e
LEFT JOIN participants p ON p.id = :pid
LEFT JOIN questions q ON q.id = :qid AND q.event_id = e.id
LEFT JOIN participants a ON a.id = q.asker_id
WHERE e.slug = :slug"""
_LOOKUP_COLS = [_E.c.id, *_p_cols, *_q_cols, *_a_cols]
LOOKUP = Statement(_LOOKUP_SQL, _LOOKUP_COLS)
LOOKUP_LOCKED = Statement(_LOOKUP_SQL + " FOR UPDATE OF e", _LOOKUP_COLS)  # PostgreSQL only
EVENT_ID = Statement("SELECT id FROM events WHERE slug = :slug")
PARTICIPANT = Statement(f"SELECT {_p_sql} FROM participants p WHERE p.id = :pid", _p_cols)

_AUDIT_NAMES = ("event_id", "actor_id", "actor_role", "action", "question_id", "participant_id", "reason",
                "before", "after", "at")  # fmt: skip
_VOTE_BINDS = {"now": _V.c.created_at}
VOTE_SQLITE = (
    Statement("INSERT INTO votes (question_id, participant_id, created_at) VALUES (:qid, :pid, :now)", (), _VOTE_BINDS),
    Statement(
        "UPDATE questions SET votes = votes + 1, updated_at = :now WHERE id = :qid RETURNING votes",
        [_Q.c.votes],
        {"now": _Q.c.updated_at},
    ),
)
UNVOTE_SQLITE = (
    Statement("DELETE FROM votes WHERE question_id = :qid AND participant_id = :pid"),
    Statement(
        "UPDATE questions SET votes = votes - 1, updated_at = :now WHERE id = :qid AND changes() > 0 RETURNING votes",
        [_Q.c.votes],
        {"now": _Q.c.updated_at},
    ),
)
VOTE_PG = Statement(
    """WITH v AS (INSERT INTO votes (question_id, participant_id, created_at) VALUES (:qid, :pid, :now)
    ON CONFLICT DO NOTHING RETURNING 1)
UPDATE questions SET votes = votes + 1, updated_at = :now WHERE id = :qid AND EXISTS (SELECT 1 FROM v)
RETURNING votes""",
    [_Q.c.votes],
    {"now": _Q.c.updated_at},
)
UNVOTE_PG = Statement(
    """WITH d AS (DELETE FROM votes WHERE question_id = :qid AND participant_id = :pid RETURNING 1)
UPDATE questions SET votes = votes - 1, updated_at = :now WHERE id = :qid AND EXISTS (SELECT 1 FROM d)
RETURNING votes""",
    [_Q.c.votes],
    {"now": _Q.c.updated_at},
)


@dataclass(frozen=True)
class EventRef:
    id: int
    slug: str


@dataclass
class Found:
    event: EventRef
    participant: models.Participant | None
    question: Any  # the question's columns by name (to_domain reads them), None when not in this event
    asker: models.Participant | None


def _participant(values: tuple[Any, ...]) -> models.Participant | None:
    if values[0] is None:
        return None
    # The row's columns as attributes: what Principal, actor_for and the publisher read. Not an ORM
    # instance: building one costs ~50 µs of instrumentation, twice per command; it never meets a session.
    return cast(models.Participant, SimpleNamespace(**dict(zip(P_NAMES, values, strict=True))))


def _found(row: tuple[Any, ...], slug: str) -> Found:
    np, nq = len(P_NAMES), len(Q_NAMES)
    p = row[1 : 1 + np]
    q = row[1 + np : 1 + np + nq]
    a = row[1 + np + nq :]
    question = SimpleNamespace(**dict(zip(Q_NAMES, q, strict=True))) if q[0] is not None else None
    return Found(EventRef(row[0], slug), _participant(p), question, _participant(a))


def _update_sql(names: tuple[str, ...]) -> str:
    return f"UPDATE questions SET {', '.join(f'{n} = :{n}' for n in names)} WHERE id = :id"


def _insert_sql(audits: int) -> str:
    rows = ("(" + ", ".join(f":a{i}_{n}" for n in _AUDIT_NAMES) + ")" for i in range(audits))
    return f"INSERT INTO audit_log ({', '.join(_AUDIT_NAMES)}) VALUES {', '.join(rows)}"


def _binds(names: tuple[str, ...], audits: int) -> dict[str, Any]:
    binds: dict[str, Any] = {n: _Q.c[n] for n in names}
    for i in range(audits):
        binds.update({f"a{i}_{n}": _A.c[n] for n in _AUDIT_NAMES})
    return binds


def write_statements(dialect: str, names: tuple[str, ...], audits: int) -> tuple[Statement, ...]:
    """The question's changed columns (`names`, empty: none) and `audits` audit rows, as statements."""
    binds = _binds(names, audits)
    parts = ([_update_sql(names)] if names else []) + ([_insert_sql(audits)] if audits else [])
    if dialect == "postgresql" and len(parts) == 2:
        # One statement: the question's update and its audit rows commit (or fail) together.
        return (Statement(f"WITH u AS ({parts[0]} RETURNING id) {parts[1]}", (), binds),)
    return tuple(Statement(sql, (), binds) for sql in parts)  # SQLite: one batch, one hand-over


# What a fast action's decision reads of its question, checked again by the optimistic PostgreSQL write
# (votes excepted: they change without the event lock and no fast action reads them; askers, JSON, change
# only in a merge, which also changes the status of what it merges).
GUARDED = (
    "text", "original_text", "status", "anonymous", "reason_code", "reason_text", "merged_into", "pinned",
    "position", "answering_at", "answered_at", "answer_text", "approved_at", "pre_submitted", "topic",
    "duplicate_of", "held_reason",
)  # fmt: skip
_PG_CAST = {"dt": "timestamptz", "json": "json", "bool": "boolean"}


def _cast(column: Any) -> str:
    if isinstance(column.type, Integer):
        return "integer"
    return _PG_CAST.get(kind(column), "text")


def guarded_statement(names: tuple[str, ...], audits: int) -> Statement:
    sets = ", ".join(f"{n} = :{n}" for n in names)
    guards = " AND ".join(f"questions.{n} IS NOT DISTINCT FROM :g_{n}" for n in GUARDED)
    selects = " UNION ALL ".join(
        "SELECT " + ", ".join(f":a{i}_{n}::{_cast(_A.c[n])}" for n in _AUDIT_NAMES) + " FROM u" for i in range(audits)
    )
    binds = _binds(names, audits)
    binds.update({f"g_{n}": _Q.c[n] for n in GUARDED})
    sql = (
        "WITH lock AS (SELECT id FROM events WHERE id = :eid FOR UPDATE), "
        f"u AS (UPDATE questions SET {sets} WHERE id = :id AND EXISTS (SELECT 1 FROM lock) AND {guards} RETURNING id) "
        f"INSERT INTO audit_log ({', '.join(_AUDIT_NAMES)}) {selects} RETURNING id"
    )
    return Statement(sql, (), binds)


class HotCommands:
    """The hot commands of one QuestionService (its locks, publisher and vote coalescer)."""

    def __init__(self, service: QuestionService, direct: Direct) -> None:
        self.service = service
        self.direct = direct
        self._event_ids: dict[str, int] = {}  # slugs never change (server/services/events.py)
        self._updates: dict[tuple[tuple[str, ...], int], tuple[Statement, ...]] = {}

    # lookups --------------------------------------------------------------------------------------------------
    async def _event_id(self, slug: str) -> int:
        found = self._event_ids.get(slug)
        if found is not None:
            return found
        if not valid_slug(slug):
            raise not_found("event")
        if self.direct.dialect == "sqlite":
            rows = (await self.direct.sqlite_batch([(EVENT_ID, {"slug": slug})], write=False))[0]
        else:
            async with self.direct.pg() as conn:
                rows = await self.direct.pg_fetch(conn, EVENT_ID, {"slug": slug})
        if not rows:
            raise not_found(f"event '{slug}'")
        self._event_ids[slug] = rows[0][0]
        return int(rows[0][0])

    async def _principal(
        self, request: Request, tokens: Tokens, base_url: str, found: Found, load_more: Callable[[int], Any]
    ) -> Principal | None:
        async def load(participant_id: int) -> models.Participant | None:
            if found.participant is not None and found.participant.id == participant_id:
                return found.participant
            return await load_more(participant_id)  # a second token's participant: rare

        return await resolve_principal(request, tokens, found.event, load, base_url=base_url)

    async def _sqlite_participant(self, participant_id: int) -> models.Participant | None:
        rows = (await self.direct.sqlite_batch([(PARTICIPANT, {"pid": participant_id})], write=False))[0]
        return _participant(rows[0]) if rows else None

    # moderator actions ------------------------------------------------------------------------------------------
    async def act(
        self,
        request: Request,
        tokens: Tokens,
        base_url: str,
        question_id: int,
        body: Callable[[], ActionRequest],
    ) -> DomainQuestion | None:
        """The action, or None when it is not one of FAST_ACTIONS (after the same checks the ORM path makes
        first: event, caller, role, body — so its answers and their order are unchanged)."""
        slug = request.path_params["slug"]
        event_id = await self._event_id(slug)
        params = {"pid": wanted_participant(request, tokens, slug), "qid": question_id, "slug": slug}
        if self.direct.dialect == "sqlite":
            async with self.service._lock(event_id):
                rows = (await self.direct.sqlite_batch([(LOOKUP, params)], write=False))[0]
                found = self._check_event(rows, slug, event_id)
                caller = await self._principal(request, tokens, base_url, found, self._sqlite_participant)
                done = self._decide(found, caller, question_id, body)
                if done is None:
                    return None
                outcome, statements = done
                await self.direct.sqlite_batch(statements, write=True)
        else:
            async with self.service._lock(event_id), self.direct.pg() as conn:

                async def more(pid: int) -> models.Participant | None:
                    got = await self.direct.pg_fetch(conn, PARTICIPANT, {"pid": pid})
                    return _participant(got[0]) if got else None

                # First optimistically: the read, then ONE statement that takes the event row lock, updates
                # the question only if what the decision read is still so, and inserts the audit rows. If
                # another process changed the question meanwhile (nothing written), the classic way:
                # BEGIN, the read under the lock, the writes, COMMIT.
                rows = await self.direct.pg_fetch(conn, LOOKUP, params)
                found = self._check_event(rows, slug, event_id)
                caller = await self._principal(request, tokens, base_url, found, more)
                done = self._decide(found, caller, question_id, body)
                if done is None:
                    return None
                outcome, _ = done
                guarded = self._guarded(event_id, caller, found.question, outcome)
                if guarded is None or not await self.direct.pg_fetch(conn, *guarded):
                    log.info("question %s: changed meanwhile or nothing to update; the locked way", question_id)
                    async with conn.transaction():
                        rows = await self.direct.pg_fetch(conn, LOOKUP_LOCKED, params)
                        found = self._check_event(rows, slug, event_id)
                        caller = await self._principal(request, tokens, base_url, found, more)
                        done = self._decide(found, caller, question_id, body)
                        if done is None:  # pragma: no cover - the body said a fast action a moment ago
                            return None
                        outcome, statements = done
                        for stmt, values in statements:
                            sql, args, _ = stmt.args("postgresql", values)
                            await conn.execute(sql, *args)
        people = {found.asker.id: found.asker} if found.asker is not None else {}
        await self.service.publisher.outcome(event_id, outcome, people)
        return next((c for c in outcome.questions if c.id == question_id), to_domain(found.question))

    def _check_event(self, rows: list[tuple[Any, ...]], slug: str, event_id: int) -> Found:
        if not rows or rows[0][0] != event_id:
            self._event_ids.pop(slug, None)  # deleted (or, in theory, replaced): the next request looks again
            raise not_found(f"event '{slug}'")
        return _found(rows[0], slug)

    def _decide(
        self, found: Found, principal: Principal | None, question_id: int, body: Callable[[], ActionRequest]
    ) -> tuple[Outcome, list[tuple[Statement, dict[str, Any]]]] | None:
        caller = require(principal, STAFF)
        action = body()
        if action.action not in FAST_ACTIONS:
            return None
        if found.question is None:
            raise ApiError(404, "not_found", f"question {question_id} not found")
        q = to_domain(found.question)
        try:
            outcome = simple_action(q, actor_for(caller), action, time.time())
        except Refused as exc:
            raise refused(exc) from None
        return outcome, self._writes(found.event.id, caller, q, outcome)

    def _writes(
        self, event_id: int, caller: Principal, before: DomainQuestion, outcome: Outcome
    ) -> list[tuple[Statement, dict[str, Any]]]:
        (after,) = outcome.questions  # FAST_ACTIONS change their own question only
        old, new = row_values(before), row_values(after)
        changed = tuple(n for n in new if new[n] != old[n])
        now = datetime.now(UTC)
        values: dict[str, Any] = {n: new[n] for n in changed}
        values.update(id=after.id, updated_at=now)
        for i, entry in enumerate(outcome.audit):
            values.update({f"a{i}_{k}": v for k, v in _audit_row(event_id, caller, entry, now).items()})
        # As the ORM's unit of work: only changed columns, updated_at only when something changed.
        names = (*changed, "updated_at") if changed else ()
        key = (names, len(outcome.audit))
        statements = self._updates.get(key)
        if statements is None:
            statements = self._updates[key] = write_statements(self.direct.dialect, *key)
        return [(s, values) for s in statements]

    def _guarded(
        self, event_id: int, caller: Principal, read: Any, outcome: Outcome
    ) -> tuple[Statement, dict[str, Any]] | None:
        """PostgreSQL: the writes as one statement guarded by the values the decision read (None when
        nothing but audit rows would be written: the classic way does that)."""
        (after,) = outcome.questions
        old, new = row_values(to_domain(read)), row_values(after)
        changed = tuple(n for n in new if new[n] != old[n])
        if not changed or not outcome.audit:
            return None
        now = datetime.now(UTC)
        values: dict[str, Any] = {n: new[n] for n in changed}
        # The values exactly as read (not through the domain's float timestamps and back).
        values.update({f"g_{n}": getattr(read, n) for n in GUARDED})
        values.update(id=after.id, updated_at=now, eid=event_id)
        for i, entry in enumerate(outcome.audit):
            values.update({f"a{i}_{k}": v for k, v in _audit_row(event_id, caller, entry, now).items()})
        key = ((*changed, "updated_at"), -len(outcome.audit))
        statements = self._updates.get(key)
        if statements is None:
            statements = self._updates[key] = (guarded_statement(key[0], len(outcome.audit)),)
        return statements[0], values

    # votes ------------------------------------------------------------------------------------------------------
    async def vote(self, request: Request, tokens: Tokens, base_url: str, question_id: int, up: bool) -> int:
        slug = request.path_params["slug"]
        event_id = await self._event_id(slug)
        params = {"pid": wanted_participant(request, tokens, slug), "qid": question_id, "slug": slug}
        if self.direct.dialect == "sqlite":
            rows = (await self.direct.sqlite_batch([(LOOKUP, params)], write=False))[0]
            found = self._check_event(rows, slug, event_id)
            caller = await self._principal(request, tokens, base_url, found, self._sqlite_participant)
            q, voter = self._vote_checks(found, caller, question_id, up)
            write = {"qid": question_id, "pid": voter.participant_id, "now": datetime.now(UTC)}
            batch = [(s, write) for s in (VOTE_SQLITE if up else UNVOTE_SQLITE)]
            try:
                counted = (await self.direct.sqlite_batch(batch, write=True))[1]
            except sqlite3.IntegrityError:
                counted = []  # already voted (or the question was deleted meanwhile): as the ORM path
        else:
            async with self.direct.pg() as conn:
                rows = await self.direct.pg_fetch(conn, LOOKUP, params)
                found = self._check_event(rows, slug, event_id)

                async def more(pid: int) -> models.Participant | None:
                    got = await self.direct.pg_fetch(conn, PARTICIPANT, {"pid": pid})
                    return _participant(got[0]) if got else None

                caller = await self._principal(request, tokens, base_url, found, more)
                q, voter = self._vote_checks(found, caller, question_id, up)
                write = {"qid": question_id, "pid": voter.participant_id, "now": datetime.now(UTC)}
                try:
                    counted = await self.direct.pg_fetch(conn, VOTE_PG if up else UNVOTE_PG, write)
                except asyncpg.IntegrityConstraintViolationError:
                    counted = []  # the question was deleted meanwhile: as the ORM path, "already voted"
        if not counted:
            # Nothing written: the caller had already voted (up) or had not voted (down).
            try:
                (commands.vote if up else commands.unvote)(q, voter, has_voted=up, now=time.time())
            except Refused as exc:
                raise refused(exc) from None
            raise AssertionError("a vote that changed nothing was not refused")  # pragma: no cover
        self.service.votes.mark(event_id, question_id)
        return int(counted[0][0])

    def _vote_checks(
        self, found: Found, principal: Principal | None, question_id: int, up: bool
    ) -> tuple[DomainQuestion, Any]:
        caller = require(principal, VIEWERS_AND_STAFF)
        if caller.participant is None:
            raise ApiError(403, "forbidden", "join the event as a participant to vote")
        if found.question is None:
            raise ApiError(404, "not_found", f"question {question_id} not found")
        q = to_domain(found.question)
        voter = actor_for(caller)
        try:
            # Every refusal but "already voted" / "not voted", which the write itself answers.
            (commands.vote if up else commands.unvote)(q, voter, has_voted=not up, now=time.time())
        except Refused as exc:
            raise refused(exc) from None
        return q, voter


def _audit_row(event_id: int, caller: Principal, entry: AuditEntry, now: datetime) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "actor_id": caller.participant_id,
        "actor_role": caller.role.value,
        "action": entry.action,
        "question_id": entry.question_id,
        "participant_id": entry.participant_id,
        "reason": entry.reason,
        "before": dict(entry.before),
        "after": dict(entry.after),
        "at": now,
    }
