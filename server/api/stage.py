"""HTTP: the stage — who is on air, muted, the layout (staff), and viewers brought on air to ask by voice.

Staff (experts, moderators, admin) control the stage. A viewer raises a hand on their own approved
question; staff invite the asker (which lets them publish, backstage), preview them over WHEP
(`/whep/{slug}?member=…`), and put them on air, which marks their question "answering now". Staff take
them off with one click, the asker may leave any time, and their time (STAGE_GUEST_SECONDS) runs out.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.api.openapi import doc
from server.auth import STAFF, Principal, Role, acting_as, require
from server.context import AppContext, ctx
from server.db import models
from server.errors import ApiError
from server.media.errors import MediaError
from server.media.stage import Grant, Hand, Layout
from server.questions.publisher import Publisher
from server.schemas import Strict
from server.schemas_questions import ActionRequest
from server.validation import Id, path_id, read_json

log = logging.getLogger("sitecast.stage")

# A question may be put by voice while it is in the live queue or being answered.
SPEAKABLE = frozenset({"approved", "answering"})


class StageOut(BaseModel):
    layout: str
    speaker: str | None
    max_on_air: int
    guest_seconds: float
    members: list[dict[str, Any]]
    hands: list[dict[str, Any]] | None = None
    grants: list[dict[str, Any]] | None = None
    mine: dict[str, Any] | None = None


class LayoutChange(Strict):
    layout: Literal["speaker", "grid", "slides"]
    speaker: str | None = Field(default=None, max_length=64)


class MemberChange(Strict):
    on_air: bool | None = None
    muted: bool | None = None


class HandRaise(Strict):
    question_id: Id


class Invitation(Strict):
    question_id: Id
    camera: bool = False


# Who decides the stage besides its host: a moderator or an admin.
HOSTS = frozenset({Role.MODERATOR, Role.ADMIN})


def require_host(
    c: AppContext, slug: str, caller: Principal | None, change: MemberChange | None = None, member_id: str | None = None
) -> Principal:
    """The host decides who is on air, who is muted and the layout: a moderator or an admin, or the first
    expert on the stage (any expert while no expert publishes yet). Any expert may mute themselves or take
    themselves off air."""
    chosen = require(caller, STAFF)
    if acting_as(chosen, HOSTS) is not None:
        return chosen
    stage = c.media.stage(slug)
    host = stage.host()
    if host is None or host.identity.participant_id == chosen.participant_id:
        return chosen
    if change is not None and member_id is not None and change.on_air is not True:
        member = stage.members.get(member_id)
        if member is not None and member.identity.participant_id == chosen.participant_id:
            return chosen  # their own microphone, or off air
    raise ApiError(403, "not_host", "only the host (the first expert on the stage) or a moderator controls the stage")


def _media(exc: MediaError) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message)


def stage_view(c: AppContext, slug: str, caller: Principal | None) -> dict[str, Any]:
    stage = c.media.stage(slug)
    data = stage.snapshot(staff=acting_as(caller, STAFF) is not None)
    data["guest_seconds"] = c.media.guest_seconds
    me = caller.participant_id if caller else None
    if me is not None:
        grant = stage.grants.get(me)
        hands = [h.question_id for h in stage.hands.values() if h.participant_id == me]
        guests = (m for m in stage.members.values() if m.kind == "guest" and m.identity.participant_id == me)
        member = next(guests, None)
        since = member.on_air_since if member is not None else None
        data["mine"] = {
            "hands": hands,
            "invited": grant is not None,
            "camera": bool(grant and grant.camera),
            "question_id": grant.question_id if grant is not None else None,
            "member": member.id if member is not None else None,
            "on_air": bool(member and member.on_air),
            # Seconds left on air, counted by the server's clock (the page counts down from it).
            "remaining": max(0.0, c.media.guest_seconds - (time.time() - since)) if since is not None else None,
        }
    return data


@doc("The stage: layout and members (staff also see backstage, raised hands and invitations)", response=StageOut)
async def get_stage(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
    return JSONResponse(stage_view(c, event.slug, caller))


@doc(
    "Choose the programme's layout (speaker, grid, slides)",
    body=LayoutChange,
    response=StageOut,
    roles="the host (first expert on the stage), moderator or admin",
)
async def set_layout(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
    caller = require_host(c, event.slug, caller)
    body = await read_json(request, LayoutChange, c.settings.max_body_bytes)
    try:
        await c.media.set_layout(event.slug, Layout(body.layout), body.speaker)
    except MediaError as exc:
        raise _media(exc) from None
    return JSONResponse(stage_view(c, event.slug, caller))


@doc(
    "Put a member on air or off, mute or unmute them (an expert may mute themselves or leave the air)",
    body=MemberChange,
    response=StageOut,
    roles="the host (first expert on the stage), moderator or admin",
)
async def change_member(request: Request) -> JSONResponse:
    c = ctx(request)
    member_id = request.path_params["member_id"]
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        require(caller, STAFF)
        body = await read_json(request, MemberChange, c.settings.max_body_bytes)
        caller = require_host(c, event.slug, caller, body, member_id)
        try:
            member = c.media.stage(event.slug).member(member_id)
            if body.muted is not None:
                await c.media.set_muted(event.slug, member_id, body.muted)
            if body.on_air is not None:
                was = member.on_air
                await c.media.set_on_air(event.slug, member_id, body.on_air)
                question = member.identity.question_id
                if body.on_air and not was and member.kind == "guest" and question is not None:
                    await _answering_now(c, session, event, caller, question)
        except MediaError as exc:
            raise _media(exc) from None
    return JSONResponse(stage_view(c, event.slug, caller))


async def _answering_now(c: AppContext, session: Any, event: models.Event, caller: Principal, question: int) -> None:
    """The guest's question is the one being answered: the chapter and the archive link to this moment."""
    try:
        await c.questions.act(session, event, caller, question, ActionRequest(action="answering"))
    except ApiError as exc:  # already answering, or answered meanwhile: the guest still speaks
        log.info("question %s not marked answering: %s", question, exc.message)


@doc("Take a member off the stage (staff), or leave it (a viewer on air)", status=204, roles="staff or the guest")
async def remove_member(request: Request) -> Response:
    c = ctx(request)
    member_id = request.path_params["member_id"]
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
    if caller is None:
        raise ApiError(401, "unauthorized", "sign in or join the event first")
    try:
        member = c.media.stage(event.slug).member(member_id)
        own = member.identity.participant_id is not None and member.identity.participant_id == caller.participant_id
        if not own:
            require(caller, STAFF)  # any staff may cut a guest at once
            if member.kind != "guest":
                require_host(c, event.slug, caller)  # another expert (or their screen): the host's call
        await c.media.cut(event.slug, member_id)
    except MediaError as exc:
        raise _media(exc) from None
    return Response(status_code=204)


@doc("Raise a hand: ask to put one's own question by voice", body=HandRaise, response=StageOut, status=201)
async def raise_hand(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        caller = require(caller, frozenset({Role.VIEWER}))
        body = await read_json(request, HandRaise, c.settings.max_body_bytes)
        question = await _question(session, event, body.question_id)
        if question.asker_id != caller.participant_id:
            raise ApiError(403, "not_your_question", "only the asker may ask to put a question by voice")
        participant = caller.participant
        assert participant is not None
        hand = Hand(
            question_id=question.id,
            participant_id=participant.id,
            name="" if question.anonymous else participant.name,
            organisation="" if question.anonymous else participant.organisation,
            text=question.text,
            at=time.time(),
        )
    try:
        await c.media.raise_hand(event.slug, hand)
    except MediaError as exc:
        raise _media(exc) from None
    return JSONResponse(stage_view(c, event.slug, caller), 201)


@doc("Lower a raised hand (the asker) or dismiss it (staff)", status=204, roles="the asker or staff")
async def lower_hand(request: Request) -> Response:
    c = ctx(request)
    question_id = _int(request, "question_id")
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
    if caller is None:
        raise ApiError(401, "unauthorized", "sign in or join the event first")
    hand = c.media.stage(event.slug).hands.get(question_id)
    if hand is None:
        raise ApiError(404, "no_hand", "no hand is raised on this question")
    if hand.participant_id != caller.participant_id:
        require(caller, STAFF)
    await c.media.lower_hand(event.slug, question_id)
    return Response(status_code=204)


@doc(
    "Invite the asker of an approved question on air: they may publish, and wait backstage",
    body=Invitation,
    response=StageOut,
    status=201,
    roles="staff",
)
async def invite(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        caller = require(caller, STAFF)
        body = await read_json(request, Invitation, c.settings.max_body_bytes)
        question = await _question(session, event, body.question_id)
        asker = await session.get(models.Participant, question.asker_id)
        if asker is None or asker.role != Role.VIEWER.value:
            raise ApiError(409, "not_a_viewer", "only a viewer's question can be put on air")
        grant = Grant(
            participant_id=asker.id,
            question_id=question.id,
            name="" if question.anonymous else asker.name,
            organisation="" if question.anonymous else asker.organisation,
            camera=body.camera,
            at=time.time(),
        )
    await c.media.grant(event.slug, grant)
    # The asker's own pages learn of it at once (the public `stage` frame never shows invitations).
    notice = {"type": "stage.invited", "question_id": question.id, "camera": body.camera}
    await Publisher(c.bus).notice(event.id, frozenset({asker.id}), notice)
    return JSONResponse(stage_view(c, event.slug, caller), 201)


@doc("Withdraw an invitation; the guest is cut if on the stage", status=204, roles="staff")
async def uninvite(request: Request) -> Response:
    c = ctx(request)
    participant_id = _int(request, "participant_id")
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
    require(caller, STAFF)
    if participant_id not in c.media.stage(event.slug).grants:
        raise ApiError(404, "not_invited", "this participant is not invited on air")
    await c.media.revoke(event.slug, participant_id)
    await Publisher(c.bus).notice(event.id, frozenset({participant_id}), {"type": "stage.uninvited"})
    return Response(status_code=204)


async def _question(session: Any, event: models.Event, question_id: int) -> models.Question:
    question = await session.get(models.Question, question_id)
    if question is None or question.event_id != event.id:
        raise ApiError(404, "not_found", "no such question in this event")
    if question.status not in SPEAKABLE:
        raise ApiError(409, "not_in_queue", "only an approved question (or the one being answered) can be put on air")
    return question  # type: ignore[no-any-return]


def _int(request: Request, name: str) -> int:
    return path_id(request, name, name.removesuffix("_id"))


routes = [
    Route("/api/v1/events/{slug}/stage", get_stage, methods=["GET"]),
    Route("/api/v1/events/{slug}/stage", set_layout, methods=["PATCH"]),
    Route("/api/v1/events/{slug}/stage/members/{member_id}", change_member, methods=["PATCH"]),
    Route("/api/v1/events/{slug}/stage/members/{member_id}", remove_member, methods=["DELETE"]),
    Route("/api/v1/events/{slug}/stage/hands", raise_hand, methods=["POST"]),
    Route("/api/v1/events/{slug}/stage/hands/{question_id}", lower_hand, methods=["DELETE"]),
    Route("/api/v1/events/{slug}/stage/invitations", invite, methods=["POST"]),
    Route("/api/v1/events/{slug}/stage/invitations/{participant_id}", uninvite, methods=["DELETE"]),
]
