"""HTTP: backstage notes between moderators and experts (staff only; viewers never see them)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.api.openapi import doc
from server.auth import STAFF, require
from server.context import ctx
from server.schemas import Strict
from server.services import notes as service
from server.validation import Text, read_json


class NoteCreate(Strict):
    text: Text = Field(min_length=1, max_length=1000)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value:
            raise ValueError("a note needs some text")
        return value


class NoteAuthor(BaseModel):
    name: str
    role: str


class NoteOut(BaseModel):
    id: int
    text: str
    author: NoteAuthor
    at: float


class NoteList(BaseModel):
    notes: list[NoteOut]


@doc("Send a backstage note to the event's staff", body=NoteCreate, response=NoteOut, status=201, roles="staff")
async def post_note(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
    caller = require(caller, STAFF)
    body = await read_json(request, NoteCreate, c.settings.max_body_bytes)
    note = await service.post_note(c.db, c.questions.publisher, event, caller, body.text)
    return JSONResponse(NoteOut.model_validate(note).model_dump(), 201)


@doc("The latest backstage notes, oldest first", response=NoteList, roles="staff")
async def list_notes(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        require(caller, STAFF)
        notes = await service.recent_notes(session, event)
    return JSONResponse(NoteList.model_validate({"notes": notes}).model_dump())


routes = [
    Route("/api/v1/events/{slug}/notes", post_note, methods=["POST"]),
    Route("/api/v1/events/{slug}/notes", list_notes, methods=["GET"]),
]
