"""WebSocket: `GET /api/v1/events/{slug}/ws` — snapshot or replay, then live frames (see README).

The route is in the router like any other, but a socket is served by `asgi_endpoint` straight from the
outermost middleware (`RawSend`, `direct_routes`): the middleware and the router do nothing for a
WebSocket yet each held a suspended frame (and Starlette's exception wrappers two closures) for the
socket's whole life, ~4 KiB of a viewer's ~25 (bench/README.md). `asgi_endpoint` handles exceptions as
Starlette's exception middleware does for a WebSocket (the app's handlers, then `WebSocketException`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable
from typing import Any

from starlette.exceptions import WebSocketException
from starlette.requests import HTTPConnection
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from archive.attendance import REPLAY
from moderation.ranking import Sort
from server.api.sockets import AsgiSocket, Socket
from server.api.stage import stage_view
from server.attendance import parse_mode, parse_visitor
from server.auth import STAFF, Principal, Role, acting_as, candidate_tokens, check_origin
from server.context import AppContext, ctx
from server.db.models import Event
from server.errors import HANDLERS, ApiError, engine_unavailable, error_response, unavailable_response
from server.questions.queries import personal, queue
from server.realtime.hub import Connection, public_channel, staff_channel
from server.services.events import get_event
from server.services.notes import recent_notes
from server.validation import MAX_JSON_DEPTH, TooDeep, loads

# A client that connects but says nothing is dropped; browsers send hello at once.
HELLO_TIMEOUT_S = 10.0
MAX_CLIENT_FRAME = 4096
CLOSE_POLICY = 1008
CLOSE_TRY_AGAIN = 1013  # RFC 6455 "Try Again Later"


async def events_ws(websocket: WebSocket) -> None:
    await serve(AsgiSocket(websocket))


async def serve(sock: Socket) -> None:
    """A viewer's or staff member's socket: auth (or an HTTP denial), accept, hello, snapshot or replay,
    then live frames until it closes; the messages after the hello are the socket's to follow, if it can."""
    request = sock.request
    c = ctx(request)
    try:
        event, caller = await _event_and_caller(c, request)
        if caller is not None and caller.via_cookie:
            check_origin(request, c.settings.base_url)
    except ApiError as exc:
        await sock.deny(_json_response(exc))  # refuse the upgrade with the HTTP status
        return
    except Exception as exc:
        if not engine_unavailable(exc):
            raise
        await sock.deny(unavailable_response())  # the database is away: 503, retry
        return
    query = request.query_params
    if query.get("as") == "staff":
        # A staff page asks for the staff view: an organiser who also joined as a viewer gets it.
        caller = acting_as(caller, STAFF) or caller
    await sock.accept()
    sock.forget_headers()
    staff = caller is not None and caller.role in STAFF
    # Attendance (server/attendance.py): viewers only; `mode=replay` from the archive page, `visitor` is an
    # anonymous browser's own id so its tabs count once.
    mode = parse_mode(query.get("mode"))
    attendance = None
    if not staff:
        visitor = parse_visitor(query.get("visitor"))
        attendance = c.attendance.joined(event.id, caller.participant_id if caller else None, visitor, mode)
    conn = None
    if mode != REPLAY:
        conn = Connection(
            ws=sock,
            event_id=event.id,
            channel=staff_channel(event.id) if staff else public_channel(event.id),
            participant_id=caller.participant_id if caller else None,
            is_viewer=not staff,
            writer=sock.writer(),
        )
        conn.on_gap = lambda conn: c.hub._spawn(_fill_gap(c, conn))
    session = Session(c, sock, conn, event, caller, attendance)
    followed = False
    try:
        if conn is not None:
            await c.hub.add(conn)
            if not await session.guarded(session.hello()):
                return
        # A replay viewer's connection only marks presence for attendance: no queue, no frames; ping → pong.
        followed = sock.follow(session)
        if followed:
            return
        while (message := await _receive(sock, timeout=None)) is not None:
            step = session.on_message(message)
            if step is not None and not await session.guarded(step):
                return
    except WebSocketDisconnect:
        pass
    finally:
        if not followed:
            session.end()


class Session:
    """One socket's session after the accept: its hub connection (None: replay attendance only) and what its
    client's messages do. Both socket paths drive it; `end` runs once, when the socket is gone."""

    __slots__ = ("attendance", "c", "caller", "conn", "event", "sock")

    def __init__(
        self,
        c: AppContext,
        sock: Socket,
        conn: Connection | None,
        event: Event,
        caller: Principal | None,
        attendance: Any,
    ) -> None:
        self.c, self.sock, self.conn, self.event = c, sock, conn, event
        self.caller, self.attendance = caller, attendance

    async def hello(self) -> None:
        assert self.conn is not None
        hello = await _receive(self.sock, timeout=HELLO_TIMEOUT_S)
        while True:
            if hello is None or hello.get("type") != "hello":
                await self.sock.close(CLOSE_POLICY, "first frame must be hello")
                raise WebSocketDisconnect(CLOSE_POLICY)
            if await _bring_up_to_date(self.c, self.sock, self.conn, self.event, self.caller, hello.get("last_id")):
                return
            hello = await _receive(self.sock, timeout=HELLO_TIMEOUT_S)

    def on_message(self, message: dict[str, Any]) -> Awaitable[Any] | None:
        """A client message after the hello; a coroutine when answering it awaits (to be run in order)."""
        kind = message.get("type")
        conn = self.conn
        if conn is None:
            if kind == "ping":
                return self.sock.send_text('{"type":"pong"}')
            return None
        if kind == "ping":
            self.c.hub.push(conn, '{"type":"pong"}')
        elif kind == "hello":
            # A fresh hello on an open socket: same rules, e.g. after the client lost track.
            self.c.hub.park(conn)
            return _bring_up_to_date(self.c, self.sock, conn, self.event, self.caller, message.get("last_id"))
        return None

    async def guarded(self, step: Awaitable[Any]) -> bool:
        """Await `step` with the session's closes for what may go wrong; False: the session is over."""
        try:
            await step
        except WebSocketDisconnect:
            return False
        except ApiError as exc:  # e.g. the event was deleted since this process last read its row
            with contextlib.suppress(Exception):
                await self.sock.close(CLOSE_POLICY, exc.code)
            return False
        except Exception as exc:
            if not engine_unavailable(exc):
                raise
            # The database or Redis is away: the client reconnects (with its last id) once it is back.
            with contextlib.suppress(Exception):
                await self.sock.close(CLOSE_TRY_AGAIN, "briefly unavailable; reconnect")
            return False
        return True

    def end(self) -> None:
        if self.conn is not None:
            self.c.hub.remove(self.conn)
        self.c.attendance.left(self.attendance)


async def _event_and_caller(c: AppContext, request: HTTPConnection) -> tuple[Event, Principal | None]:
    """An anonymous connect (no token, no cookie) costs no database session: the event row comes from the
    process's short-lived cache (`c.event_rows`), and only its id and slug are used, never its state."""
    slug = request.path_params["slug"]
    if not candidate_tokens(request, slug):
        return await c.cached_event(slug), None
    async with c.session() as session:
        return await c.event_and_caller(request, session)


async def _bring_up_to_date(
    c: AppContext, ws: Socket, conn: Connection, event: Event, caller: Principal | None, last_id: Any
) -> bool:
    """Snapshot or replay, then release the live frames that arrived meanwhile. False: resync sent."""
    if last_id is not None and (not isinstance(last_id, int) or isinstance(last_id, bool)):
        await ws.close(CLOSE_POLICY, "last_id must be an integer or null")
        raise WebSocketDisconnect(CLOSE_POLICY)
    if last_id is None:
        position = await c.bus.position(conn.channel)
        if conn.is_viewer and caller is None:
            # Anonymous: the shared public part (built once per channel position), then this socket's own.
            shared = await c.viewer_snapshots.get(
                (event.id, conn.channel), position, lambda: _public_snapshot(c, event.slug, conn.channel, position)
            )
            own = {
                "stream": {"state": c.stream_state(event.slug), "sources": c.media.sources(event.slug)},
                "stage": stage_view(c, event.slug, None),
                "viewers": c.hub.viewers(event.id),
                "role": "viewer",
            }
            conn.last_id = position
            await ws.send_text(shared + json.dumps(own, ensure_ascii=False)[1:] + "}")
            _release(c, conn)
            return True
        if conn.is_viewer:
            questions = await c.snapshots.get(c.session, event, position)
            state: dict[str, Any] = {"questions": questions, "mine": [], "voted": []}
            if conn.participant_id is not None:
                async with c.session() as session:
                    state.update(await personal(session, event, conn.participant_id))
        else:
            async with c.session() as session:
                state = await queue(session, event, caller, Sort.POPULAR)
                state["notes"] = await recent_notes(session, event)
        async with c.session() as session:
            polls = await c.polls.listing(session, event, caller if not conn.is_viewer else _viewer(caller))
        snapshot = {
            **state,
            "polls": polls["polls"],
            "poll_answers": polls["answers"],
            "event": {"state": event.state, "moderation_mode": event.moderation_mode},
            "stream": {"state": c.stream_state(event.slug), "sources": c.media.sources(event.slug)},
            "stage": stage_view(c, event.slug, None if conn.is_viewer else caller),
            "captions": await c.captions.recent.get(c.session, event, conn.channel, position),
            "viewers": c.hub.viewers(event.id),
            "role": caller.role.value if caller else "viewer",
        }
        conn.last_id = position
        await ws.send_text(json.dumps({"type": "snapshot", "id": position, "data": snapshot}, ensure_ascii=False))
    else:
        missed = await c.bus.since(conn.channel, last_id)
        if missed is None:
            c.hub.park(conn)  # stay parked until the client asks again with last_id null
            await ws.send_text('{"type":"resync_required"}')
            return False
        conn.last_id = last_id
        for frame in missed:
            conn.last_id = frame.id
            await ws.send_text(frame.text)
        if conn.participant_id is not None:
            async with c.session() as session:
                mine = await personal(session, event, conn.participant_id)
            await ws.send_text(json.dumps({"type": "mine", "data": mine}, ensure_ascii=False))
    _release(c, conn)
    return True


async def _public_snapshot(c: AppContext, slug: str, channel: str, position: int) -> str:
    """An anonymous viewer's snapshot at `position` without its per-socket fields, as the head of the frame's
    JSON text: `{"type":"snapshot","id":…,"data":{…,` (the caller appends its own fields and closes it).

    The event row is read afresh (state, moderation mode): the cached row a connect used may predate a change."""
    async with c.session() as session:
        event = await get_event(session, slug)
        polls = await c.polls.listing(session, event, None)
    data = {
        "questions": await c.snapshots.get(c.session, event, position),
        "mine": [],
        "voted": [],
        "polls": polls["polls"],
        "poll_answers": polls["answers"],
        "event": {"state": event.state, "moderation_mode": event.moderation_mode},
        "captions": await c.captions.recent.get(c.session, event, channel, position),
    }
    return f'{{"type":"snapshot","id":{position},"data":' + json.dumps(data, ensure_ascii=False)[:-1] + ","


def _viewer(caller: Principal | None) -> Principal | None:
    """A viewer connection sees polls as a participant, even an organiser's (whose staff view is elsewhere)."""
    return acting_as(caller, frozenset({Role.VIEWER})) if caller is not None and caller.role in STAFF else caller


def _release(c: AppContext, conn: Connection) -> None:
    waiting, conn.syncing = conn.syncing or [], None
    for frame in sorted(waiting, key=lambda f: f.id):
        c.hub.offer(conn, frame)


async def _fill_gap(c: AppContext, conn: Connection) -> None:
    missed = await c.bus.since(conn.channel, conn.last_id)
    if missed is None:
        await conn.ws.close(4009, "resync required")
        return
    waiting, conn.syncing = (conn.syncing or []), None
    for frame in sorted({f.id: f for f in [*missed, *waiting]}.values(), key=lambda f: f.id):
        c.hub.offer(conn, frame)


async def _receive(ws: Socket, timeout: float | None) -> dict[str, Any] | None:
    try:
        if timeout:
            async with asyncio.timeout(timeout):  # no task per socket, as `wait_for` makes
                text = await ws.receive_text()
        else:
            text = await ws.receive_text()
    except TimeoutError:
        with contextlib.suppress(Exception):
            await ws.close(CLOSE_POLICY, "no hello")
        return None
    except (KeyError, RuntimeError):
        return None  # binary frame or a closed socket
    message = parse_message(text)
    if isinstance(message, tuple):
        await ws.close(*message)
        return None
    return message


def parse_message(text: str) -> dict[str, Any] | tuple[int, str]:
    """A client's message as a JSON object, or the (close code, reason) it gets instead."""
    if len(text) > MAX_CLIENT_FRAME:
        return 1009, "frame too large"
    try:
        # Bounded depth: a 2,000-deep array fits in one frame and would blow json's recursion.
        message = loads(text)
    except TooDeep:
        return CLOSE_POLICY, f"frames must not nest deeper than {MAX_JSON_DEPTH} levels"
    except ValueError:
        return CLOSE_POLICY, "frames must be JSON"
    if not isinstance(message, dict):
        return CLOSE_POLICY, "frames must be JSON objects"
    return message


def _json_response(exc: ApiError) -> Any:
    return error_response(exc.status, exc.code, exc.message)


# Starlette's exception middleware for a WebSocket: the app's handlers but `Exception` (its catch-all goes to
# the server-error middleware, which lets a WebSocket's exception through to uvicorn), and its own default
# for `WebSocketException`.
_HANDLERS: dict[Any, Any] = {k: v for k, v in HANDLERS.items() if k not in (Exception, 500)}


async def _websocket_exception(websocket: WebSocket, exc: WebSocketException) -> None:
    await websocket.close(code=exc.code, reason=exc.reason)


_HANDLERS.setdefault(WebSocketException, _websocket_exception)


async def asgi_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    """`events_ws` as a bare ASGI app, with the route's exception handling (see the module docstring)."""
    websocket = WebSocket(scope, receive, send)
    try:
        await events_ws(websocket)
    except Exception as exc:
        handler = next((_HANDLERS[cls] for cls in type(exc).__mro__ if cls in _HANDLERS), None)
        if handler is None:
            raise
        await handler(websocket, exc)


routes = [WebSocketRoute("/api/v1/events/{slug}/ws", events_ws)]
# Served by RawSend straight from the outermost middleware (server/realtime/wire.py).
direct_routes = [(routes[0], asgi_endpoint)]
