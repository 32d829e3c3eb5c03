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
from typing import Any

from starlette.exceptions import WebSocketException
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from archive.attendance import REPLAY
from moderation.ranking import Sort
from server.api.stage import stage_view
from server.attendance import parse_mode, parse_visitor
from server.auth import STAFF, Principal, Role, acting_as, candidate_tokens, check_origin
from server.context import AppContext, ctx
from server.db.models import Event
from server.errors import HANDLERS, ApiError, engine_unavailable, error_response, unavailable_response
from server.questions.queries import personal, queue
from server.realtime.hub import Connection, public_channel, staff_channel
from server.realtime.wire import DirectWriter
from server.services.events import get_event
from server.services.notes import recent_notes
from server.validation import MAX_JSON_DEPTH, TooDeep, loads

# A client that connects but says nothing is dropped; browsers send hello at once.
HELLO_TIMEOUT_S = 10.0
MAX_CLIENT_FRAME = 4096
CLOSE_POLICY = 1008
CLOSE_TRY_AGAIN = 1013  # RFC 6455 "Try Again Later"


async def events_ws(websocket: WebSocket) -> None:
    c = ctx(websocket)
    try:
        event, caller = await _event_and_caller(c, websocket)
        if caller is not None and caller.via_cookie:
            check_origin(websocket, c.settings.base_url)
    except ApiError as exc:
        # Refuse the upgrade with the HTTP status (Starlette sends it as a denial response).
        await websocket.send_denial_response(_json_response(exc))
        return
    except Exception as exc:
        if not engine_unavailable(exc):
            raise
        await websocket.send_denial_response(unavailable_response())  # the database is away: 503, retry
        return
    if websocket.query_params.get("as") == "staff":
        # A staff page asks for the staff view: an organiser who also joined as a viewer gets it.
        caller = acting_as(caller, STAFF) or caller
    await websocket.accept()
    _forget_headers(websocket)
    staff = caller is not None and caller.role in STAFF
    # Attendance (server/attendance.py): viewers only; `mode=replay` from the archive page, `visitor` is an
    # anonymous browser's own id so its tabs count once.
    mode = parse_mode(websocket.query_params.get("mode"))
    attendance = None
    if not staff:
        visitor = parse_visitor(websocket.query_params.get("visitor"))
        attendance = c.attendance.joined(event.id, caller.participant_id if caller else None, visitor, mode)
    if mode == REPLAY:
        try:
            await _attend(c, websocket)
        finally:
            c.attendance.left(attendance)
        return
    conn = Connection(
        ws=websocket,
        event_id=event.id,
        channel=staff_channel(event.id) if staff else public_channel(event.id),
        participant_id=caller.participant_id if caller else None,
        is_viewer=not staff,
        writer=DirectWriter.attach(websocket.scope),
    )
    conn.on_gap = lambda conn: c.hub._spawn(_fill_gap(c, conn))
    await c.hub.add(conn)
    try:
        await _serve(c, websocket, conn, event, caller)
    except WebSocketDisconnect:
        pass
    except ApiError as exc:  # e.g. the event was deleted since this process last read its row
        with contextlib.suppress(Exception):
            await websocket.close(CLOSE_POLICY, exc.code)
    except Exception as exc:
        if not engine_unavailable(exc):
            raise
        # The database or Redis is away: the client reconnects (with its last id) once it is back.
        with contextlib.suppress(Exception):
            await websocket.close(CLOSE_TRY_AGAIN, "briefly unavailable; reconnect")
    finally:
        c.hub.remove(conn)
        c.attendance.left(attendance)


def _forget_headers(websocket: WebSocket) -> None:
    # The handshake's headers (tokens, cookies, Origin) are read before the accept and never after; the
    # scope's list of them and Starlette's parsed copies are ~1.5 KiB a socket. The query string stays.
    websocket.scope["headers"] = []
    for cached in ("_headers", "_cookies", "_url"):
        websocket.__dict__.pop(cached, None)


async def _event_and_caller(c: AppContext, websocket: WebSocket) -> tuple[Event, Principal | None]:
    """An anonymous connect (no token, no cookie) costs no database session: the event row comes from the
    process's short-lived cache (`c.event_rows`), and only its id and slug are used, never its state."""
    slug = websocket.path_params["slug"]
    if not candidate_tokens(websocket, slug):

        async def load() -> Event:
            async with c.session() as session:
                return await get_event(session, slug)

        return await c.event_rows.get(slug, 0, load), None
    async with c.session() as session:
        return await c.event_and_caller(websocket, session)


async def _attend(c: AppContext, ws: WebSocket) -> None:
    """A replay viewer's connection only marks presence for attendance: no queue, no frames; ping → pong."""
    with contextlib.suppress(WebSocketDisconnect):
        while (message := await _receive(ws, timeout=None)) is not None:
            if message.get("type") == "ping":
                await ws.send_text('{"type":"pong"}')


async def _serve(c: AppContext, ws: WebSocket, conn: Connection, event: Event, caller: Principal | None) -> None:
    hello = await _receive(ws, timeout=HELLO_TIMEOUT_S)
    while True:
        if hello is None or hello.get("type") != "hello":
            await ws.close(CLOSE_POLICY, "first frame must be hello")
            return
        if await _bring_up_to_date(c, ws, conn, event, caller, hello.get("last_id")):
            break
        hello = await _receive(ws, timeout=HELLO_TIMEOUT_S)
    while True:
        message = await _receive(ws, timeout=None)
        if message is None:
            return
        if message.get("type") == "ping":
            c.hub.push(conn, '{"type":"pong"}')
        elif message.get("type") == "hello":
            # A fresh hello on an open socket: same rules, e.g. after the client lost track.
            c.hub.park(conn)
            await _bring_up_to_date(c, ws, conn, event, caller, message.get("last_id"))


async def _bring_up_to_date(
    c: AppContext, ws: WebSocket, conn: Connection, event: Event, caller: Principal | None, last_id: Any
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


async def _receive(ws: WebSocket, timeout: float | None) -> dict[str, Any] | None:
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
    if len(text) > MAX_CLIENT_FRAME:
        await ws.close(1009, "frame too large")
        return None
    try:
        # Bounded depth: a 2,000-deep array fits in one frame and would blow json's recursion.
        message = loads(text)
    except TooDeep:
        await ws.close(CLOSE_POLICY, f"frames must not nest deeper than {MAX_JSON_DEPTH} levels")
        return None
    except ValueError:
        await ws.close(CLOSE_POLICY, "frames must be JSON")
        return None
    if not isinstance(message, dict):
        await ws.close(CLOSE_POLICY, "frames must be JSON objects")
        return None
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
