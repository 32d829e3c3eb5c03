"""HTTP: events (create, edit, schedule, list, lifecycle)."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.api.openapi import doc
from server.auth import Role, require
from server.context import ctx
from server.lifecycle import EventState
from server.questions.publisher import Publisher
from server.reports.service import settle
from server.schemas import EventCreate, EventList, EventOut, EventStateChange, EventUpdate
from server.services import events as service
from server.validation import read_json

ADMIN = frozenset({Role.ADMIN})
EXPERT_OR_ADMIN = frozenset({Role.EXPERT, Role.ADMIN})

log = logging.getLogger("sitecast")


@doc("List events", response=EventList)
async def list_events(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        events = await service.list_events(session)
    body = EventList(events=[service.event_out(e, c.settings.base_url) for e in events])
    return JSONResponse(body.model_dump(mode="json"))


@doc("Create an event", body=EventCreate, response=EventOut, status=201, roles="admin")
async def create_event(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        require(await c.caller(request, session, None), ADMIN)
        body = await read_json(request, EventCreate, c.settings.max_body_bytes)
        event = await service.create_event(session, body)
    return JSONResponse(service.event_out(event, c.settings.base_url).model_dump(mode="json"), 201)


@doc("Get one event", response=EventOut)
async def get_event(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, _ = await c.event_and_caller(request, session)
    return JSONResponse(service.event_out(event, c.settings.base_url).model_dump(mode="json"))


@doc(
    "Edit or schedule an event (only the given fields change)",
    body=EventUpdate,
    response=EventOut,
    roles="admin",
)
async def update_event(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        require(caller, ADMIN)
        body = await read_json(request, EventUpdate, c.settings.max_body_bytes)
        event = await service.update_event(session, event, body)
    c.event_rows.forget(event.slug)
    return JSONResponse(service.event_out(event, c.settings.base_url).model_dump(mode="json"))


@doc(
    "Start, end or archive an event",
    body=EventStateChange,
    response=EventOut,
    roles="expert or admin (archive: admin)",
)
async def change_state(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        require(caller, EXPERT_OR_ADMIN)
        body = await read_json(request, EventStateChange, c.settings.max_body_bytes)
        if body.state == EventState.ARCHIVED:
            require(caller, ADMIN)
        event = await service.change_state(session, event, EventState(body.state))
    c.event_rows.forget(event.slug)  # this process's WebSocket connects read the row afresh
    try:  # after commit; the move stands whether or not the pages heard of it
        await Publisher(c.bus).event_state(event.id, event.state)
    except Exception:
        log.exception("could not publish the state %s of %s", event.state, event.slug)
    if event.state == EventState.ENDED:
        # Every peer of the event is closed and the recording's playlist finalised; then the archive
        # jobs (VOD check, MP4, transcript, chapters, search index) take over. Should the media side
        # fail here, the jobs still run: the vod job rebuilds the playlist from segments.log.
        try:
            await c.media.end_stream(event.slug)
        except Exception:
            log.exception("ending the stream of %s failed; the archive jobs take over", event.slug)
        # The live captions become the transcript's first draft (captions.vtt, search) before the
        # archive jobs start: the archive pass then replaces it.
        await c.captions.event_ended(event)
        await c.archive.event_ended(event.id)
        try:  # certificates are due now: issue (and e-mail) them without waiting for a report view
            await settle(c, event, request.app.state.pages.catalogue)
        except Exception:
            log.exception("issuing the certificates of %s failed; the report page issues them later", event.slug)
    return JSONResponse(service.event_out(event, c.settings.base_url).model_dump(mode="json"))


routes = [
    Route("/api/v1/events", list_events, methods=["GET"]),
    Route("/api/v1/events", create_event, methods=["POST"]),
    Route("/api/v1/events/{slug}", get_event, methods=["GET"]),
    Route("/api/v1/events/{slug}", update_event, methods=["PATCH"]),
    Route("/api/v1/events/{slug}/state", change_state, methods=["POST"]),
]
