"""HTTP: the question queue — ask, list, vote, moderate, settings, standing, audit."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from moderation.ranking import Sort
from server.api.openapi import doc
from server.auth import MODERATORS, STAFF, Role, require
from server.context import client_ip, ctx
from server.db import models
from server.errors import ApiError
from server.questions.queries import queue
from server.schemas import Strict
from server.schemas_questions import (
    ActionRequest,
    AuditList,
    ModerationOut,
    ModerationSettings,
    QuestionCreate,
    QuestionList,
    QuestionOut,
    StandingChange,
    VoteOut,
)
from server.validation import Text, path_id, read_json

M = TypeVar("M", bound=BaseModel)
VIEWERS_AND_STAFF = frozenset({Role.VIEWER, Role.EXPERT, Role.MODERATOR, Role.ADMIN})


@doc("Ask a question", body=QuestionCreate, response=QuestionOut, status=201, roles="participants", tag="questions")
async def ask(request: Request) -> JSONResponse:
    c = ctx(request)
    # Per-address cap on asking, on top of the per-participant rule in moderation/ (a cheap edge check).
    retry = await c.limiter.hit(f"ask:{client_ip(request)}", c.settings.ask_rate_per_minute, 60.0)
    if retry is not None:
        raise ApiError(429, "rate_limited", "too many questions from this address", retry_after=retry)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
    caller = require(caller, VIEWERS_AND_STAFF)
    body = await read_json(request, QuestionCreate, c.settings.max_body_bytes)
    q = await c.questions.submit(event, caller, body)
    out = QuestionOut(
        id=q.id, status=q.status.value, text=q.text, held_reason=q.held_reason, duplicate_of=q.duplicate_of
    )
    return JSONResponse(out.model_dump(mode="json"), 201)


@doc(
    "List the questions the caller may see (viewers: the public queue and their own)",
    response=QuestionList,
    tag="questions",
)
async def list_questions(request: Request) -> JSONResponse:
    c = ctx(request)
    try:
        sort = Sort(request.query_params.get("sort", "popular"))
    except ValueError:
        raise ApiError(422, "invalid", "sort must be popular or recent") from None
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        body = await queue(session, event, caller, sort)
    return JSONResponse(body)


async def _vote(request: Request, up: bool) -> JSONResponse:
    c = ctx(request)
    question_id = path_id(request, "question_id", "question")
    if c.db.direct.usable:
        votes = await c.questions.hot.vote(request, c.tokens, c.settings.base_url, question_id, up)
        return JSONResponse(VoteOut(id=question_id, votes=votes, voted=up).model_dump())
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        caller = require(caller, VIEWERS_AND_STAFF)
        votes = await c.questions.vote(session, event, caller, question_id, up)
    return JSONResponse(VoteOut(id=question_id, votes=votes, voted=up).model_dump())


@doc("Vote for a question", response=VoteOut, roles="participants", tag="questions")
async def vote(request: Request) -> JSONResponse:
    return await _vote(request, True)


@doc("Take a vote back", response=VoteOut, roles="participants", tag="questions")
async def unvote(request: Request) -> JSONResponse:
    return await _vote(request, False)


@doc(
    "Moderate a question: approve, reject, edit, merge, pin, reorder, answering, answered, reopen",
    body=ActionRequest,
    response=QuestionOut,
    roles="moderators; experts for answering/answered",
    tag="questions",
)
async def act(request: Request) -> JSONResponse:
    c = ctx(request)
    question_id = path_id(request, "question_id", "question")
    # The body is read before the event lock is taken and judged after the caller, as before.
    body = await _deferred_body(request, ActionRequest, c.settings.max_body_bytes)
    q = None
    if c.db.direct.usable:
        q = await c.questions.hot.act(request, c.tokens, c.settings.base_url, question_id, body)
    if q is None:  # pin, answering, merge: the ORM path
        async with c.session() as session:
            event, caller = await c.event_and_caller(request, session)
            caller = require(caller, STAFF)
            q = await c.questions.act(session, event, caller, question_id, body())
    return JSONResponse(QuestionOut(id=q.id, status=q.status.value, text=q.text).model_dump())


async def _deferred_body(request: Request, model: type[M], limit: int) -> Callable[[], M]:
    """The body read now, judged (with read_json's answers: 415, 413, 400, 422) when called."""
    try:
        parsed = await read_json(request, model, limit)
    except ApiError as exc:
        error = exc

        def fail() -> M:
            raise error

        return fail
    return lambda: parsed


class OwnEdit(Strict):
    text: Text = Field(min_length=1, max_length=2000)


@doc(
    "Reword your own question while it is pending",
    body=OwnEdit,
    response=QuestionOut,
    roles="the asker",
    tag="questions",
)
async def revise_own(request: Request) -> JSONResponse:
    c = ctx(request)
    question_id = path_id(request, "question_id", "question")
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
    caller = require(caller, VIEWERS_AND_STAFF)
    body = await read_json(request, OwnEdit, c.settings.max_body_bytes)
    q = await c.questions.revise_own(event, caller, question_id, body.text)
    out = QuestionOut(
        id=q.id, status=q.status.value, text=q.text, held_reason=q.held_reason, duplicate_of=q.duplicate_of
    )
    return JSONResponse(out.model_dump(mode="json"))


@doc("Withdraw your own question while it is pending", roles="the asker", tag="questions")
async def withdraw_own(request: Request) -> Response:
    c = ctx(request)
    question_id = path_id(request, "question_id", "question")
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
    caller = require(caller, VIEWERS_AND_STAFF)
    await c.questions.withdraw_own(event, caller, question_id)
    return Response(status_code=204)


def _moderation_out(event: models.Event) -> ModerationOut:
    return ModerationOut(
        moderation_mode=event.moderation_mode,
        banned_words=list(event.banned_words or []),
        link_policy=event.link_policy,
        rate_limit_seconds=event.rate_limit_seconds,
    )


@doc(
    "Moderation settings (mode, banned words, link policy, rate limit)",
    response=ModerationOut,
    roles="moderators",
    tag="questions",
)
async def get_moderation(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
    require(caller, MODERATORS)
    return JSONResponse(_moderation_out(event).model_dump())


@doc(
    "Change moderation settings live",
    body=ModerationSettings,
    response=ModerationOut,
    roles="moderators",
    tag="questions",
)
async def set_moderation(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
    caller = require(caller, MODERATORS)
    body = await read_json(request, ModerationSettings, c.settings.max_body_bytes)
    event = await c.questions.settings(event, caller, body)
    return JSONResponse(_moderation_out(event).model_dump())


@doc("Mute, ban or restore a participant", body=StandingChange, roles="moderators", tag="questions")
async def set_standing(request: Request) -> JSONResponse:
    c = ctx(request)
    participant_id = path_id(request, "participant_id", "participant")
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
    caller = require(caller, MODERATORS)
    body = await read_json(request, StandingChange, c.settings.max_body_bytes)
    target = await c.questions.set_standing(event, caller, participant_id, body.standing, body.reason)
    return JSONResponse({"participant_id": target.id, "standing": target.standing})


@doc("The audit log of moderator and expert actions", response=AuditList, roles="moderators", tag="questions")
async def audit(request: Request) -> Response:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        require(caller, MODERATORS)
        rows = (
            await session.execute(
                select(models.AuditLog).where(models.AuditLog.event_id == event.id).order_by(models.AuditLog.id)
            )
        ).scalars()
        entries = [
            {
                "id": r.id,
                "actor_id": r.actor_id,
                "actor_role": r.actor_role,
                "action": r.action,
                "question_id": r.question_id,
                "participant_id": r.participant_id,
                "reason": r.reason,
                "before": r.before,
                "after": r.after,
                "at": r.at.isoformat(),
            }
            for r in rows
        ]
    return JSONResponse({"entries": entries})


routes = [
    Route("/api/v1/events/{slug}/questions", ask, methods=["POST"]),
    Route("/api/v1/events/{slug}/questions", list_questions, methods=["GET"]),
    Route("/api/v1/events/{slug}/questions/{question_id}", revise_own, methods=["PATCH"]),
    Route("/api/v1/events/{slug}/questions/{question_id}", withdraw_own, methods=["DELETE"]),
    Route("/api/v1/events/{slug}/questions/{question_id}/vote", vote, methods=["PUT"]),
    Route("/api/v1/events/{slug}/questions/{question_id}/vote", unvote, methods=["DELETE"]),
    Route("/api/v1/events/{slug}/questions/{question_id}/actions", act, methods=["POST"]),
    Route("/api/v1/events/{slug}/moderation", get_moderation, methods=["GET"]),
    Route("/api/v1/events/{slug}/moderation", set_moderation, methods=["PATCH"]),
    Route("/api/v1/events/{slug}/participants/{participant_id}/standing", set_standing, methods=["POST"]),
    Route("/api/v1/events/{slug}/audit", audit, methods=["GET"]),
]
