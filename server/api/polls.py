"""HTTP: live polls and quiz questions — prepare, open, close, answer, results."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictInt, StrictStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from polls import lifecycle
from polls.errors import Refused
from polls.model import (
    MAX_OPTION_CHARS,
    MAX_OPTIONS,
    MAX_PROMPT_CHARS,
    MAX_TIME_LIMIT_S,
    Audience,
    Poll,
    PollKind,
    PollState,
)
from server.api.openapi import doc
from server.api.questions import VIEWERS_AND_STAFF
from server.auth import STAFF, Role, acting_as, require
from server.context import ctx
from server.errors import ApiError
from server.polls.mapping import staff_view
from server.polls.service import refused
from server.schemas import Strict
from server.validation import Line, Text, path_id, read_json

VIEWERS = frozenset({Role.VIEWER})
# The edge caps what it will even read; the domain's own limits (polls/model.py) give the precise 422.
MAX_ANSWER_CHARS = 2000


class PollBody(Strict):
    kind: Literal["single", "multiple", "rating", "open", "ranking"]
    prompt: Text = Field(max_length=MAX_PROMPT_CHARS * 2)
    options: list[Line] = Field(default_factory=list, max_length=MAX_OPTIONS * 2)
    results_to: Literal["everyone", "staff"] = "everyone"
    quiz: bool = False
    correct: list[Annotated[int, Field(ge=0, lt=MAX_OPTIONS * 2)]] = Field(default_factory=list, max_length=MAX_OPTIONS)
    # The edge's bound; the domain (polls/lifecycle.py) says 5 s to an hour with its own message.
    time_limit_s: int | None = Field(default=None, ge=0, le=MAX_TIME_LIMIT_S * 2)

    def draft(self) -> Poll:
        if any(len(o) > MAX_OPTION_CHARS for o in self.options):
            raise ApiError(422, "invalid", f"each option must be at most {MAX_OPTION_CHARS} characters")
        try:
            return lifecycle.draft(
                0,
                PollKind(self.kind),
                self.prompt,
                self.options,
                results_to=Audience(self.results_to),
                quiz=self.quiz,
                correct=self.correct,
                time_limit_s=self.time_limit_s,
            )
        except Refused as exc:
            raise refused(exc) from None


class StateBody(Strict):
    state: Literal["open", "closed"]


# An option index or a star rating: the edge bounds it, the domain (polls/answers.py) judges it for the kind.
Choice = Annotated[StrictInt, Field(ge=0, le=MAX_OPTIONS * 2)]


class AnswerBody(Strict):
    answer: Choice | list[Choice] | StrictStr  # "5" is not 5: answers are typed as the kind says


class PollOut(BaseModel):
    id: int
    kind: str
    prompt: str
    options: list[str]
    state: str
    results_to: str
    quiz: bool
    time_limit_s: int | None
    opened_at: float | None
    closed_at: float | None
    deadline: float | None
    correct: list[int] | None = None
    results: dict[str, Any] | None = None


class PollList(BaseModel):
    polls: list[PollOut]
    answers: list[dict[str, Any]]


class AnswerOut(BaseModel):
    poll_id: int
    answer: Any
    correct: bool | None = None
    correct_options: list[int] | None = None


def _poll_id(request: Request) -> int:
    return path_id(request, "poll_id", "poll")


def _staff_out(poll: Poll) -> dict[str, Any]:
    return staff_view(poll)


@doc(
    "Prepare a poll or quiz question (a draft)", body=PollBody, response=PollOut, status=201, roles="staff", tag="polls"
)
async def create(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
    require(caller, STAFF)
    body = await read_json(request, PollBody, c.settings.max_body_bytes)
    poll = await c.polls.create(event, body.draft())
    return JSONResponse(_staff_out(poll), 201)


@doc("The polls the caller may see, with results where allowed, and their own answers", response=PollList, tag="polls")
async def listing(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        if request.query_params.get("as") == "staff":
            caller = acting_as(caller, STAFF) or caller
        body = await c.polls.listing(session, event, caller)
    return JSONResponse(body)


@doc("Change a draft poll", body=PollBody, response=PollOut, roles="staff", tag="polls")
async def update(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
    require(caller, STAFF)
    body = await read_json(request, PollBody, c.settings.max_body_bytes)
    # The draft is judged once the poll is found: an unknown poll is a 404 whatever the body says.
    poll = await c.polls.update(event, _poll_id(request), body.draft)
    return JSONResponse(_staff_out(poll))


@doc("Delete a draft poll", roles="staff", tag="polls")
async def remove(request: Request) -> Response:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
    require(caller, STAFF)
    await c.polls.delete(event, _poll_id(request))
    return Response(status_code=204)


@doc("Open (launch) or close a poll", body=StateBody, response=PollOut, roles="staff", tag="polls")
async def set_state(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
    require(caller, STAFF)
    body = await read_json(request, StateBody, c.settings.max_body_bytes)
    poll = await c.polls.set_state(event, _poll_id(request), PollState(body.state))
    return JSONResponse(_staff_out(poll))


@doc("Answer a poll (once)", body=AnswerBody, response=AnswerOut, status=201, roles="participants", tag="polls")
async def answer(request: Request) -> JSONResponse:
    c = ctx(request)
    poll_id = _poll_id(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        # An organiser who also joined as a viewer answers as the viewer.
        caller = acting_as(caller, VIEWERS) or require(caller, VIEWERS_AND_STAFF)
        body = await read_json(request, AnswerBody, c.settings.max_body_bytes)
        if isinstance(body.answer, str) and len(body.answer) > MAX_ANSWER_CHARS:
            raise ApiError(422, "too_long", f"an answer is at most {MAX_ANSWER_CHARS} characters")
        mine = await c.polls.answer(session, event, caller, poll_id, body.answer)
    return JSONResponse(mine, 201)


@doc("A poll's results (staff; everyone when the poll shows results to all)", tag="polls")
async def results(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        caller = acting_as(caller, STAFF) or caller
        body = await c.polls.poll_results(session, event, caller, _poll_id(request))
    return JSONResponse(body)


routes = [
    Route("/api/v1/events/{slug}/polls", create, methods=["POST"]),
    Route("/api/v1/events/{slug}/polls", listing, methods=["GET"]),
    Route("/api/v1/events/{slug}/polls/{poll_id}", update, methods=["PATCH"]),
    Route("/api/v1/events/{slug}/polls/{poll_id}", remove, methods=["DELETE"]),
    Route("/api/v1/events/{slug}/polls/{poll_id}/state", set_state, methods=["POST"]),
    Route("/api/v1/events/{slug}/polls/{poll_id}/answer", answer, methods=["POST"]),
    Route("/api/v1/events/{slug}/polls/{poll_id}/results", results, methods=["GET"]),
]
