"""Media wiring: WHIP/WHEP/HLS routes with our auth, and stream state onto the WebSocket."""

from __future__ import annotations

import logging
from typing import Literal

from starlette.exceptions import HTTPException
from starlette.requests import Request

from server.auth import Role, acting_as
from server.context import AppContext, ctx
from server.errors import ApiError
from server.media.stage import Identity, Stage
from server.questions.publisher import Publisher
from server.services.events import get_event

log = logging.getLogger("sitecast.media")

PUBLISHERS = frozenset({Role.EXPERT, Role.ADMIN})
WATCHERS = frozenset({Role.EXPERT, Role.MODERATOR, Role.ADMIN})


async def authorize(request: Request, slug: str, purpose: Literal["publish", "watch"]) -> Identity | None:
    """Checked before any WebRTC work: the event exists and the bearer may publish or watch it. A publisher
    is a stage member: an expert's camera or screen, or a viewer a moderator invited on air (a guest)."""
    c = ctx(request)
    try:
        async with c.session() as session:
            event = await get_event(session, slug)
            caller = await c.caller(request, session, event)
    except ApiError as exc:
        raise HTTPException(exc.status, detail=exc.message) from None
    if caller is None:
        raise HTTPException(401, detail="a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    source = request.query_params.get("source", "camera")
    if purpose == "publish" and (publisher := acting_as(caller, PUBLISHERS)) is not None:
        who = publisher.participant
        key = f"p{who.id}" if who is not None else "admin"
        return Identity(
            key=f"{key}:{source}",
            kind="screen" if source == "screen" else "expert",
            name=who.name if who is not None else "",
            organisation=who.organisation if who is not None else "",
            participant_id=who.id if who is not None else None,
        )
    if purpose == "publish" and caller.role is Role.VIEWER and caller.participant is not None:
        grant = c.media.stage(slug).grants.get(caller.participant.id)
        if grant is None:
            raise HTTPException(403, detail="a moderator must invite you on air before you can publish")
        if source != "camera":
            raise HTTPException(403, detail="a guest on air publishes a microphone (and camera), not a screen")
        return Identity(
            key=f"p{caller.participant.id}:camera",
            kind="guest",
            name=grant.name,
            organisation=grant.organisation,
            participant_id=caller.participant.id,
            question_id=grant.question_id,
            video_allowed=grant.camera,
        )
    allowed = PUBLISHERS if purpose == "publish" else WATCHERS
    if acting_as(caller, allowed) is None:
        raise HTTPException(403, detail=f"the {caller.role} role may not {purpose} this event")
    return None


async def announce_state(c: AppContext, slug: str, state: str) -> None:
    """MediaService's on_state: tell every client of the event (idle / live / reconnecting / ended) and which
    sources (camera, screen) are on air."""
    try:
        async with c.session() as session:
            event = await get_event(session, slug)
        await Publisher(c.bus).stream_state(event.id, state, c.media.sources(slug))
    except Exception:  # the stream goes on whether or not the notification went out
        log.exception("could not publish stream state %s for %s", state, slug)


async def announce_stage(c: AppContext, slug: str, stage: Stage) -> None:
    """MediaService's on_stage: the `stage` frame, in full to staff, who is on air to everyone else."""
    try:
        async with c.session() as session:
            event = await get_event(session, slug)
        await Publisher(c.bus).stage(event.id, stage.snapshot(staff=True), stage.snapshot(staff=False))
    except Exception:  # the stage goes on whether or not the notification went out
        log.exception("could not publish the stage of %s", slug)
