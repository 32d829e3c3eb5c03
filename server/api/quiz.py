"""HTTP: the quiz rule, a participant's quiz score, and the poll / quiz CSV exports."""

from __future__ import annotations

from pydantic import Field
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from polls.scoring import score
from server.api.openapi import doc
from server.api.reports import csv_response
from server.auth import MODERATORS, Role, acting_as, require
from server.context import ctx
from server.db import models
from server.db.poll_models import Poll as PollRow
from server.errors import ApiError
from server.polls import quiz
from server.polls.exports import polls_csv, quiz_csv
from server.polls.mapping import to_domain
from server.reports.service import presenter
from server.schemas import Strict
from server.stakeholders import STAKEHOLDERS
from server.validation import read_json

ADMIN_ONLY = frozenset({Role.ADMIN})


class QuizRuleBody(Strict):
    pass_percent: int | None = Field(default=None, ge=1, le=100)
    required_for_training: bool | None = None


@doc("The quiz rule: pass mark and whether the training record needs a passed quiz", tag="polls")
async def get_rule(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, _ = await c.event_and_caller(request, session)
        r = await quiz.rule(session, event.id)
    return JSONResponse({"pass_percent": r.pass_percent, "required_for_training": r.required_for_training})


@doc("Set the quiz rule", body=QuizRuleBody, roles="admin", tag="polls")
async def set_rule(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        require(caller, ADMIN_ONLY)
        body = await read_json(request, QuizRuleBody, c.settings.max_body_bytes)
        r = await quiz.set_rule(session, event.id, body.pass_percent, body.required_for_training)
    return JSONResponse({"pass_percent": r.pass_percent, "required_for_training": r.required_for_training})


@doc("My quiz score in this event", roles="participants", tag="polls")
async def my_score(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        me = acting_as(caller, frozenset({Role.VIEWER}))
        if me is None or me.participant is None:
            raise ApiError(401, "unauthorized", "join the event first")
        r = await quiz.rule(session, event.id)
        questions = [to_domain(row) for row in await quiz.published(session, event.id)]
        mine = (await quiz.answers(session, event.id, me.participant.id)).get(me.participant.id, {})
        s = score(questions, mine, r.pass_percent)
    return JSONResponse(
        {
            "correct": s.correct,
            "answered": s.answered,
            "total": s.total,
            "percent": s.percent,
            "passed": s.passed,
            "pass_percent": r.pass_percent,
            "required_for_training": r.required_for_training,
        }
    )


@doc("Every participant's quiz answers and score (CSV)", roles="moderators", tag="polls")
async def quiz_export(request: Request) -> Response:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        require(caller, MODERATORS)
        questions = [to_domain(row) for row in await quiz.published(session, event.id)]
        _, scores = await quiz.scores(session, event.id)
        given = await quiz.answers(session, event.id)
        people = {
            p.id: p
            for p in (
                await session.execute(select(models.Participant).where(models.Participant.event_id == event.id))
            ).scalars()
        }
    body = quiz_csv(presenter(request), questions, people, given, scores or {})
    return csv_response(body, f"{event.slug}-quiz.csv")


@doc("Every launched poll's results by stakeholder group (CSV)", roles="moderators", tag="polls")
async def polls_export(request: Request) -> Response:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        require(caller, MODERATORS)
        rows = (
            await session.execute(
                select(PollRow).where(PollRow.event_id == event.id, PollRow.state != "draft").order_by(PollRow.id)
            )
        ).scalars()
        polls = []
        for row in list(rows):
            poll = to_domain(row)
            polls.append((poll, await c.polls.results.compute(session, poll, event.topics)))
    return csv_response(polls_csv(presenter(request), polls, list(STAKEHOLDERS)), f"{event.slug}-polls.csv")


routes = [
    Route("/api/v1/events/{slug}/quiz/settings", get_rule, methods=["GET"]),
    Route("/api/v1/events/{slug}/quiz", set_rule, methods=["PATCH"]),
    Route("/api/v1/events/{slug}/quiz", my_score, methods=["GET"]),
    Route("/api/v1/events/{slug}/quiz.csv", quiz_export, methods=["GET"]),
    Route("/api/v1/events/{slug}/polls.csv", polls_export, methods=["GET"]),
]
