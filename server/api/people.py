"""HTTP: invites for experts and moderators, viewers joining, who-am-I."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.api.openapi import doc
from server.auth import Role, candidate_tokens, require, set_event_cookie
from server.context import client_ip, ctx
from server.errors import ApiError
from server.schemas import InviteCreate, InviteList, InviteOut, JoinOut, JoinRequest, MeOut
from server.services import people as service
from server.services.events import get_event
from server.validation import path_id, read_json

ADMIN = frozenset({Role.ADMIN})


@doc(
    "Invite an expert or moderator",
    body=InviteCreate,
    response=InviteOut,
    status=201,
    roles="admin",
    tag="people",
)
async def create_invite(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        require(caller, ADMIN)
        body = await read_json(request, InviteCreate, c.settings.max_body_bytes)
        participant = await service.invite(session, event, body, c.settings.invite_ttl_hours)
        out = service.invite_out(participant, c.tokens, c.settings.base_url, event.slug)
    return JSONResponse(out.model_dump(mode="json"), 201)


@doc("List invites (with their links)", response=InviteList, roles="admin", tag="people")
async def list_invites(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        require(caller, ADMIN)
        invites = await service.list_invites(session, event)
        out = InviteList(invites=[service.invite_out(p, c.tokens, c.settings.base_url, event.slug) for p in invites])
    return JSONResponse(out.model_dump(mode="json"))


@doc("Revoke an invite: its token stops working at once", response=InviteOut, roles="admin", tag="people")
async def revoke_invite(request: Request) -> JSONResponse:
    c = ctx(request)
    participant_id = path_id(request, "participant_id", "invite")
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        require(caller, ADMIN)
        participant = await service.revoke(session, event, participant_id)
        out = service.invite_out(participant, None, c.settings.base_url, event.slug)
    return JSONResponse(out.model_dump(mode="json"))


@doc(
    "Join an event as a viewer (sets the browser cookie too); a ban or mute carries over to a re-join from "
    "the same browser (visitor id) or while holding an earlier token of the event",
    body=JoinRequest,
    response=JoinOut,
    status=201,
    tag="people",
)
async def join(request: Request) -> JSONResponse:
    c = ctx(request)
    retry = await c.limiter.hit(f"join:{client_ip(request)}", c.settings.join_rate_per_minute, 60.0)
    if retry is not None:
        raise ApiError(429, "rate_limited", "too many joins from this address; try again shortly", retry_after=retry)
    async with c.session() as session:
        event = await get_event(session, request.path_params["slug"])
        body = await read_json(request, JoinRequest, c.settings.max_body_bytes)
        if not c.mailer.enabled:  # nothing would ever be sent: keep no address
            body = body.model_copy(update={"email": None})
        previous = await service.predecessor(session, event, c.tokens, candidate_tokens(request, event.slug))
        participant = await service.join(session, event, body, c.settings.viewer_ttl_hours, previous)
        token = c.tokens.issue(participant)
        out = JoinOut(participant_id=participant.id, role=participant.role, token=token, standing=participant.standing)
    response = JSONResponse(out.model_dump(mode="json"), 201)
    set_event_cookie(response, event.slug, token, c.settings.viewer_ttl_hours, c.settings.secure_cookies)
    return response


@doc("Who am I in this event", response=MeOut, roles="participants", tag="people")
async def me(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        _, caller = await c.event_and_caller(request, session)
    if caller is None:
        raise ApiError(401, "unauthorized", "not joined")
    p = caller.participant
    out = MeOut(
        participant_id=p.id if p else None,
        role=caller.role,
        name=p.name if p else "admin",
        organisation=p.organisation if p else "",
        stakeholder=p.stakeholder if p else None,
        anonymous=p.anonymous if p else False,
        standing=p.standing if p else "active",
    )
    return JSONResponse(out.model_dump(mode="json"))


routes = [
    Route("/api/v1/events/{slug}/invites", create_invite, methods=["POST"]),
    Route("/api/v1/events/{slug}/invites", list_invites, methods=["GET"]),
    Route("/api/v1/events/{slug}/invites/{participant_id}", revoke_invite, methods=["DELETE"]),
    Route("/api/v1/events/{slug}/join", join, methods=["POST"]),
    Route("/api/v1/events/{slug}/me", me, methods=["GET"]),
]
