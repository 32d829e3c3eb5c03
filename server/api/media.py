"""Media wiring: WHIP/WHEP/HLS routes with our auth, and stream state onto the WebSocket."""

from __future__ import annotations

import logging
from typing import Literal

from starlette.exceptions import HTTPException
from starlette.requests import Request

from server.auth import Role, acting_as
from server.context import AppContext, ctx
from server.errors import ApiError
from server.questions.publisher import Publisher
from server.services.events import get_event

log = logging.getLogger("sitecast.media")

PUBLISHERS = frozenset({Role.EXPERT, Role.ADMIN})
WATCHERS = frozenset({Role.EXPERT, Role.MODERATOR, Role.ADMIN})


async def authorize(request: Request, slug: str, purpose: Literal["publish", "watch"]) -> None:
    """Checked before any WebRTC work: the event exists and the bearer may publish or watch it."""
    c = ctx(request)
    try:
        async with c.session() as session:
            event = await get_event(session, slug)
            caller = await c.caller(request, session, event)
    except ApiError as exc:
        raise HTTPException(exc.status, detail=exc.message) from None
    if caller is None:
        raise HTTPException(401, detail="a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    allowed = PUBLISHERS if purpose == "publish" else WATCHERS
    if acting_as(caller, allowed) is None:
        raise HTTPException(403, detail=f"the {caller.role} role may not {purpose} this event")


async def announce_state(c: AppContext, slug: str, state: str) -> None:
    """MediaService's on_state: tell every client of the event (idle / live / reconnecting / ended) and which
    sources (camera, screen) are on air."""
    try:
        async with c.session() as session:
            event = await get_event(session, slug)
        await Publisher(c.bus).stream_state(event.id, state, c.media.sources(slug))
    except Exception:  # the stream goes on whether or not the notification went out
        log.exception("could not publish stream state %s for %s", state, slug)
