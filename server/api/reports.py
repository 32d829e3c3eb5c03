"""HTTP: the event report (JSON, CSV), attendance export, training records and certificate checks."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from archive.report import as_json
from server.api.openapi import doc
from server.auth import MODERATORS, require
from server.context import ctx
from server.errors import ApiError
from server.polls import survey
from server.polls.report import polls_section
from server.reports import certificates, csvs
from server.reports.service import certificate_json, gather, own_status, presenter, training_json

CSV_TYPE = "text/csv; charset=utf-8"


def csv_response(body: bytes, filename: str) -> Response:
    # RFC 6266: an ASCII fallback name and the UTF-8 one.
    disposition = f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}"
    return Response(
        body, media_type=CSV_TYPE, headers={"Content-Disposition": disposition, "Cache-Control": "no-store"}
    )


@doc("The event report: attendance, questions, moderation, pictures", roles="moderators", tag="reports")
async def report_json(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        loaded = await gather(request, session)
    base = c.settings.base_url
    body = as_json(loaded.report, base)
    stills = await c.stills.get(loaded.event.slug)
    body["pictures"] = {
        "recording": stills is not None,
        "stills": [
            {"url": f"{base}/e/{quote(loaded.event.slug)}/report/stills/{s.name}", "at_seconds": s.at}
            for s in stills or []
        ],
    }
    if loaded.records is not None:
        body["training"] = training_json(loaded, base)
    async with c.session() as session:
        p = presenter(request)
        body["polls"] = [
            {k: v for k, v in item.items() if k != "chart"}
            for item in await polls_section(session, loaded.event, c.polls.results, p)
        ]
        body["satisfaction"] = await survey.summary(session, loaded.event)
    return JSONResponse(body)


@doc("The event report as CSV (UTF-8 with BOM, for Excel)", roles="moderators", tag="reports")
async def report_csv(request: Request) -> Response:
    c = ctx(request)
    async with c.session() as session:
        loaded = await gather(request, session)
    body = csvs.report_csv(presenter(request), loaded.report, c.settings.base_url)
    return csv_response(body, f"{loaded.event.slug}-report.csv")


@doc(
    "Attendance per viewer as CSV (?detail=spans: every join and leave)",
    roles="moderators",
    tag="reports",
)
async def attendance_csv(request: Request) -> Response:
    async with ctx(request).session() as session:
        loaded = await gather(request, session)
    p = presenter(request)
    if request.query_params.get("detail") == "spans":
        return csv_response(csvs.spans_csv(p, loaded.data), f"{loaded.event.slug}-attendance-spans.csv")
    return csv_response(csvs.attendance_csv(p, loaded.data, loaded.report), f"{loaded.event.slug}-attendance.csv")


@doc("Training records: minutes watched, questions asked, certificates", roles="moderators", tag="reports")
async def training_records(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        loaded = await gather(request, session)
    return JSONResponse(training_json(loaded, c.settings.base_url))


@doc("Training records as CSV (those who met the minimum)", roles="moderators", tag="reports")
async def training_csv(request: Request) -> Response:
    c = ctx(request)
    async with c.session() as session:
        loaded = await gather(request, session)
    if loaded.records is None:
        raise ApiError(409, "no_training", "this event keeps no training records: set training_min_minutes first")
    body = csvs.training_csv(presenter(request), loaded.records, loaded.certificates, c.settings.base_url)
    return csv_response(body, f"{loaded.event.slug}-training.csv")


@doc("My training record and certificate for this event", roles="participants", tag="reports")
async def my_certificate(request: Request) -> JSONResponse:
    async with ctx(request).session() as session:
        loaded = await gather(request, session, mine=True)
    body = own_status(loaded)
    return JSONResponse(body)


@doc("Check a certificate by its verification code (public)", tag="reports")
async def verify(request: Request) -> JSONResponse:
    c = ctx(request)
    async with c.session() as session:
        found = await certificates.find(session, request.path_params["code"])
    if found is None:
        raise ApiError(404, "not_found", "no certificate has this code")
    return JSONResponse(certificate_json(*found, c.settings.base_url))


async def still(request: Request) -> Response:
    c = ctx(request)
    async with c.session() as session:
        event, caller = await c.event_and_caller(request, session)
    require(caller, MODERATORS)
    path = c.stills.path(event.slug, request.path_params["name"])
    if path is None:
        raise ApiError(404, "not_found", "no such picture")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


routes = [
    Route("/api/v1/events/{slug}/report", report_json, methods=["GET"]),
    Route("/api/v1/events/{slug}/report.csv", report_csv, methods=["GET"]),
    Route("/api/v1/events/{slug}/attendance.csv", attendance_csv, methods=["GET"]),
    Route("/api/v1/events/{slug}/training", training_records, methods=["GET"]),
    Route("/api/v1/events/{slug}/training.csv", training_csv, methods=["GET"]),
    Route("/api/v1/events/{slug}/certificate", my_certificate, methods=["GET"]),
    Route("/api/v1/certificates/{code}", verify, methods=["GET"]),
    Route("/e/{slug}/report/stills/{name}", still, methods=["GET"]),
]
