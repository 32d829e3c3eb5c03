"""HTTP: correcting a caption line (staff), the event's recogniser glossary (organiser), and the live
captions as an HLS subtitles track (anyone, like the video's playlist)."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from archive.glossary import MAX_EVENT_TERMS, MAX_TERM_CHARS
from server.api.openapi import doc
from server.auth import STAFF, Role, require
from server.captions import corrections, webvtt
from server.context import ctx
from server.errors import ApiError
from server.lifecycle import EventState
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


PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
VTT_TYPE = "text/vtt; charset=utf-8"
# As the video's live playlist: fresh for a second in shared caches, never in the browser.
PLAYLIST_CACHE = "public, max-age=0, s-maxage=1"
# A listed segment's cues are final (a later correction reaches the page's band, not a fetched segment).
SEGMENT_CACHE = "public, max-age=60"
_SEQUENCE = re.compile(r"\d{1,9}")


@doc("The live captions as an HLS WebVTT subtitles playlist (after the event: all of it, ENDLIST)", tag="media")
async def subtitles_playlist(request: Request) -> Response:
    c = ctx(request)
    # Every player polls this about once a second: the event row comes from the process's short-lived cache.
    event = await c.cached_event(request.path_params["slug"])
    spans = c.captions.subtitles.spans(event.slug)
    if not spans:
        raise ApiError(404, "not_found", "this event has no programme yet")
    live = event.state == EventState.LIVE.value
    text = webvtt.render_playlist(spans, live=live)
    cache = PLAYLIST_CACHE if live else "public, max-age=60"
    return Response(text, media_type=PLAYLIST_TYPE, headers={"Cache-Control": cache})


@doc("One WebVTT segment of the subtitles track: the captions of that span of the programme", tag="media")
async def subtitles_segment(request: Request) -> Response:
    c = ctx(request)
    event = await c.cached_event(request.path_params["slug"])
    raw = request.path_params["sequence"]
    span = c.captions.subtitles.span(event.slug, int(raw)) if _SEQUENCE.fullmatch(raw) else None
    if span is None:
        raise ApiError(404, "not_found", f"subtitles segment {raw[:20]} not found")
    text = await c.captions.subtitles.segment(c.session, event.id, span, webvtt.render_segment)
    return Response(text, media_type=VTT_TYPE, headers={"Cache-Control": SEGMENT_CACHE})


routes = [
    Route("/api/v1/events/{slug}/captions/{line_id}", correct, methods=["PATCH"]),
    Route("/api/v1/events/{slug}/glossary", get_glossary, methods=["GET"]),
    Route("/api/v1/events/{slug}/glossary", put_glossary, methods=["PUT"]),
    # Before the media routes' /live/{slug}/{path}: these two are the captions'.
    Route(f"/live/{{slug}}/{webvtt.PLAYLIST}", subtitles_playlist, methods=["GET", "HEAD"]),
    Route(f"/live/{{slug}}/{webvtt.SEGMENT_DIR}/{{sequence}}.vtt", subtitles_segment, methods=["GET", "HEAD"]),
]
