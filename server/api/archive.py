"""HTTP for the archive (archive/): its data and files, retries, search, and the two pages."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from archive import captions, page
from archive import search as archive_search
from archive.jobs import JobKind, JobState
from server.api.openapi import doc
from server.auth import Role, require
from server.context import ctx
from server.errors import ApiError
from server.i18n import negotiate
from server.media.errors import MediaError
from server.pages import pages
from server.schemas_archive import ArchiveOut, ArchiveRetry, ArchiveStatus, SearchOut
from server.services.events import get_event
from server.validation import query_int, read_json

ADMIN = frozenset({Role.ADMIN})
SEARCH_PAGE_SIZE = 20
MAX_SEARCH_LIMIT = 100
TEXT_FILES = {
    captions.CAPTIONS_VTT: "text/vtt; charset=utf-8",
    captions.CHAPTERS_VTT: "text/vtt; charset=utf-8",
    captions.CAPTIONS_SRT: "application/x-subrip; charset=utf-8",
}
# Captions are rewritten when a failed transcript is retried: caches revalidate (ETag) each time.
REVALIDATE = "no-cache"


async def _view(request: Request, slug: str) -> dict[str, Any]:
    c = ctx(request)
    async with c.session() as session:
        event = await get_event(session, slug)
        return await page.archive_view(session, event, c.settings.media_dir, c.settings.base_url)


@doc("An event's archive: job progress, files, transcript, chapters, answered questions", response=ArchiveOut)
async def archive_data(request: Request) -> JSONResponse:
    view = await _view(request, request.path_params["slug"])
    return JSONResponse(ArchiveOut.model_validate(view).model_dump(mode="json"))


@doc(
    "Run archive jobs again (failed ones by default)",
    body=ArchiveRetry,
    response=ArchiveStatus,
    status=202,
    roles="admin",
)
async def retry(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
        require(caller, ADMIN)
    body = await read_json(request, ArchiveRetry, c.settings.max_body_bytes)
    jobs = await c.archive.jobs(event.id)
    if not jobs:
        raise ApiError(409, "not_ended", "the event has not ended: it has no archive jobs yet")
    kinds = body.kinds or [JobKind(j.kind) for j in jobs if j.state == JobState.FAILED]
    await c.archive.retry(event.id, kinds)
    view = await _view(request, event.slug)
    return JSONResponse(ArchiveStatus.model_validate(view["status"]).model_dump(mode="json"), 202)


async def text_file(request: Request) -> Response:
    slug, name = request.path_params["slug"], request.url.path.rsplit("/", 1)[-1]
    c = ctx(request)
    try:
        path = c.media.feed_dir(slug) / name
    except MediaError:
        raise ApiError(404, "not_found", "no such event") from None
    if not path.is_file():
        raise ApiError(404, "not_archived", f"{name} is not ready (yet) for this event")
    return FileResponse(path, media_type=TEXT_FILES[name], headers={"Cache-Control": REVALIDATE})


async def qa_csv(request: Request) -> Response:
    c = ctx(request)
    async with c.session() as session:
        event = await get_event(session, request.path_params["slug"])
        questions = await page.answered_questions(session, event)
    body = page.qa_csv(questions, event, c.settings.base_url)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{event.slug}-qa.csv"', "Cache-Control": REVALIDATE},
    )


async def _search(request: Request, limit: int, offset: int) -> dict[str, Any]:
    c = ctx(request)
    query = archive_search.parse(request.query_params.get("q", ""))
    async with c.session() as session:
        hits, capped = await archive_search.search(session, query)
    results = []
    for hit in hits[offset : offset + limit]:
        doc, event = hit.doc, hit.event
        where = f"t={doc.seconds:.1f}" if doc.seconds is not None else f"q={doc.ref_id}"
        results.append(
            {
                "event": {
                    "slug": event.slug,
                    "title_zh": event.title_zh,
                    "title_en": event.title_en,
                    "ended_at": event.ended_at,
                },
                "kind": doc.kind,
                "text": doc.text,
                "seconds": doc.seconds,
                "question_id": doc.ref_id if doc.kind != archive_search.DocKind.TRANSCRIPT else None,
                "url": f"/e/{event.slug}/archive?{where}",
                "highlights": archive_search.highlight_spans(doc.text, query),
            }
        )
    return {
        "query": query.text,
        "total": len(hits),
        "capped": capped,
        "offset": offset,
        "limit": limit,
        "results": results,
    }


@doc("Search every archived event: transcripts, answered questions, typed answers", response=SearchOut, tag="search")
async def search_api(request: Request) -> JSONResponse:
    if not request.query_params.get("q", "").strip():
        raise ApiError(422, "invalid", "q (what to search for) is required")
    limit = query_int(request, "limit", SEARCH_PAGE_SIZE, 1, MAX_SEARCH_LIMIT)
    offset = query_int(request, "offset", 0, 0, 1_000_000)
    body = await _search(request, limit, offset)
    return JSONResponse(SearchOut.model_validate(body).model_dump(mode="json"))


# -- pages --------------------------------------------------------------------------------------


def _title(event: dict[str, Any], lang: str) -> str:
    return str(event["title_en"] if lang == "en" and event["title_en"] else event["title_zh"])


def _marked(text: str, spans: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """`text` cut into (piece, is_match) for the template to wrap matches in <mark> (autoescaped)."""
    parts: list[tuple[str, bool]] = []
    at = 0
    for start, end in spans:
        if start < at:
            continue
        parts += [(text[at:start], False), (text[start:end], True)]
        at = end
    parts.append((text[at:], False))
    return [p for p in parts if p[0]]


async def archive_page(request: Request) -> Response:
    slug = request.path_params["slug"]
    c = ctx(request)
    try:
        view = await _view(request, slug)
        async with c.session() as session:
            _event, caller = await c.event_and_caller(request, session)
    except ApiError as exc:
        if exc.status == 404:
            return pages(request).render(request, "error.html", 404, message_key="event.not_found")
        raise
    lang = negotiate(request)
    return pages(request).render(
        request,
        "archive.html",
        view=view,
        title=_title(view["event"], lang),
        is_admin=caller is not None and caller.role == Role.ADMIN,
        timestamp=lambda s: captions.timestamp(s).split(".")[0],
    )


async def search_page(request: Request) -> Response:
    limit = SEARCH_PAGE_SIZE
    offset = query_int(request, "offset", 0, 0, 1_000_000)
    q = request.query_params.get("q", "").strip()
    body = await _search(request, limit, offset) if q else None
    lang = negotiate(request)
    if body is not None:
        for result in body["results"]:
            result["title"] = _title(result["event"], lang)
            result["parts"] = _marked(result["text"], result["highlights"])
            result["time"] = (
                captions.timestamp(result["seconds"]).split(".")[0] if result["seconds"] is not None else None
            )
    return pages(request).render(request, "search.html", q=q, body=body)


_FILES = [Route(f"/archive/{{slug}}/{name}", text_file, methods=["GET", "HEAD"]) for name in TEXT_FILES]

routes = [
    Route("/api/v1/events/{slug}/archive", archive_data, methods=["GET"]),
    Route("/api/v1/events/{slug}/archive/retry", retry, methods=["POST"]),
    Route("/api/v1/search", search_api, methods=["GET"]),
    *_FILES,
    Route("/archive/{slug}/qa.csv", qa_csv, methods=["GET"]),
    Route("/e/{slug}/archive", archive_page, methods=["GET"]),
    Route("/search", search_page, methods=["GET"]),
]
