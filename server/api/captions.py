"""HTTP: correcting a caption line (staff), and the event's recogniser glossary (organiser)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from archive.glossary import MAX_EVENT_TERMS, MAX_TERM_CHARS
from server.api.openapi import doc
from server.auth import STAFF, Role, require
from server.captions import corrections
from server.context import ctx
from server.schemas import Strict
from server.validation import Text, path_id, read_json

ADMIN = frozenset({Role.ADMIN})
MAX_LINE_CHARS = 500


class CaptionEdit(Strict):
    text: Text = Field(min_length=1, max_length=MAX_LINE_CHARS)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a caption line needs some text")
        return value.strip()


class CaptionOut(BaseModel):
    id: int | None
    phrase: int | None
    final: bool
    start: float
    end: float
    language: str
    text: str
    edited: bool


class Glossary(Strict):
    zh: list[str] = Field(default_factory=list, max_length=MAX_EVENT_TERMS)
    en: list[str] = Field(default_factory=list, max_length=MAX_EVENT_TERMS)

    @field_validator("zh", "en")
    @classmethod
    def _terms(cls, value: list[str]) -> list[str]:
        if any(len(term) > MAX_TERM_CHARS for term in value):
            raise ValueError(f"a term is at most {MAX_TERM_CHARS} characters")
        return value


def _line_id(request: Request) -> int:
    return path_id(request, "line_id", "caption line")


@doc("Correct a caption line (audited); viewers see it at once", body=CaptionEdit, response=CaptionOut, roles="staff")
async def correct(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
    caller = require(caller, STAFF)
    line = _line_id(request)
    body = await read_json(request, CaptionEdit, c.settings.max_body_bytes)
    view = await corrections.correct_line(
        c.db, c.questions.publisher, c.settings.media_dir, event, caller, line, body.text
    )
    return JSONResponse(CaptionOut.model_validate(view).model_dump())


@doc("The event's recogniser glossary per language", response=Glossary, roles="staff")
async def get_glossary(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
    require(caller, STAFF)
    return JSONResponse(corrections.glossary_view(event))


@doc("Replace the event's recogniser glossary (audited)", body=Glossary, response=Glossary, roles="admin")
async def put_glossary(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
    caller = require(caller, ADMIN)
    body = await read_json(request, Glossary, c.settings.max_body_bytes)
    saved = await corrections.set_glossary(c.db, c.captions, event, caller, {"zh": body.zh, "en": body.en})
    return JSONResponse(saved)


routes = [
    Route("/api/v1/events/{slug}/captions/{line_id}", correct, methods=["PATCH"]),
    Route("/api/v1/events/{slug}/glossary", get_glossary, methods=["GET"]),
    Route("/api/v1/events/{slug}/glossary", put_glossary, methods=["PUT"]),
]
