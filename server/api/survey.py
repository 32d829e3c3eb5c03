"""HTTP: the post-event satisfaction survey — status, answer once, results and CSV for staff."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictInt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from archive.exports import to_csv
from polls.model import MAX_COMMENT_CHARS
from server.api.openapi import doc
from server.api.questions import VIEWERS_AND_STAFF
from server.api.reports import csv_response
from server.auth import MODERATORS, Role, acting_as, require
from server.context import ctx
from server.errors import ApiError
from server.polls import survey
from server.reports.service import presenter
from server.schemas import Strict
from server.validation import Text, read_json

# The edge bounds a rating; the domain (polls/survey.py) says 1–5 with its own message.
Stars = Annotated[StrictInt, Field(ge=0, le=10)]


class SurveyBody(Strict):
    overall: Stars
    usefulness: Stars
    experts: dict[str, Stars] = Field(default_factory=dict, max_length=50)
    # Twice the domain's limit at the edge: the domain gives the precise 422 (`too_long`).
    comment: Text = Field(default="", max_length=MAX_COMMENT_CHARS * 2)
    anonymous: StrictBool = False


@doc("The survey: open or not, answered by the caller, the experts to rate", tag="polls")
async def get_survey(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        body = await survey.status(session, event, acting_as(caller, frozenset({Role.VIEWER})))
    return JSONResponse(body)


@doc("Answer the survey (once)", body=SurveyBody, status=201, roles="participants", tag="polls")
async def post_survey(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        caller = acting_as(caller, frozenset({Role.VIEWER})) or require(caller, VIEWERS_AND_STAFF)
        body = await read_json(request, SurveyBody, c.settings.max_body_bytes)
        if any(not k.isdigit() for k in body.experts):
            raise ApiError(422, "invalid", "experts are keyed by their participant id")
        out = await survey.submit(session, event, caller, body.model_dump())
    return JSONResponse(out, 201)


@doc("Survey results: distributions, means, satisfied share, by group, comments", roles="moderators", tag="polls")
async def results(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        require(caller, MODERATORS)
        body = await survey.summary(session, event)
    return JSONResponse(body)


@doc("Every survey answer (CSV; anonymous answers without a name)", roles="moderators", tag="polls")
async def export(request: Request) -> Response:
    c = ctx(request)
    p = presenter(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        require(caller, MODERATORS)
        found = await survey.rows(session, event)
        experts = await survey.experts(session, event)
    head: list[object] = [
        p.t("report.csv.name"),
        p.t("report.csv.organisation"),
        p.t("report.group"),
        p.t("survey.overall"),
        p.t("survey.usefulness"),
        *[p.t("survey.expert").replace("{name}", e["name"]) for e in experts],
        p.t("survey.comment"),
    ]
    out: list[list[object]] = [head]
    for a, person in found:
        hidden = a.anonymous or person.anonymous or not person.name
        out.append(
            [
                p.t("quiz.csv.anonymous") if hidden else person.name,
                "" if hidden else person.organisation,
                p.group(person.stakeholder),
                a.overall,
                a.usefulness,
                *[(a.experts or {}).get(str(e["id"])) for e in experts],
                a.comment,
            ]
        )
    return csv_response(to_csv(out), f"{event.slug}-survey.csv")


routes = [
    Route("/api/v1/events/{slug}/survey", get_survey, methods=["GET"]),
    Route("/api/v1/events/{slug}/survey", post_survey, methods=["POST"]),
    Route("/api/v1/events/{slug}/survey/results", results, methods=["GET"]),
    Route("/api/v1/events/{slug}/survey.csv", export, methods=["GET"]),
]
