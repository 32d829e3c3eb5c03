"""HTTP: the event report (JSON, CSV), attendance export, training records and certificate checks."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from archive.report import Report, as_json, iso
from archive.training import Record, format_code
from server.api.openapi import doc
from server.auth import MODERATORS, Principal, require
from server.context import AppContext, ctx
from server.db.models import Certificate, Event
from server.errors import ApiError
from server.i18n import negotiate
from server.reports import certificates, csvs
from server.reports.data import EventData, load, report, training
from server.reports.present import Presenter, zone

CSV_TYPE = "text/csv; charset=utf-8"


@dataclass
class Loaded:
    c: AppContext
    event: Event
    caller: Principal | None
    data: EventData
    report: Report
    records: list[Record] | None
    certificates: dict[int, Certificate]


async def gather(request: Request, session: AsyncSession, roles: frozenset[Any] | None = MODERATORS) -> Loaded:
    """The event, its rows and the computed report; certificates are issued on the way when due."""
    c = ctx(request)
    event, caller = await c.event_and_caller(request, session)
    if roles is not None:
        require(caller, roles)
    now = time.time()
    data = await load(session, event, now=now, flush_seconds=c.settings.attendance_flush_seconds)
    built = report(data, now=now, grace=c.settings.attendance_grace_seconds)
    records = training(event, data, built)
    issued = await certificates.issue(session, event, records or [])
    return Loaded(c, event, caller, data, built, records, issued)


def presenter(request: Request) -> Presenter:
    c = ctx(request)
    return Presenter(request.app.state.pages.catalogue, negotiate(request), zone(c.settings.report_timezone))


def csv_response(body: bytes, filename: str) -> Response:
    # RFC 6266: an ASCII fallback name and the UTF-8 one.
    disposition = f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}"
    return Response(
        body, media_type=CSV_TYPE, headers={"Content-Disposition": disposition, "Cache-Control": "no-store"}
    )


def certificate_json(cert: Certificate, event: Event, base_url: str) -> dict[str, Any]:
    code = format_code(cert.code)
    return {
        "code": code,
        "valid": True,
        "holder": {"name": cert.name, "organisation": cert.organisation, "stakeholder": cert.stakeholder},
        "event": {
            "slug": event.slug,
            "kind": event.kind,
            "title_zh": event.title_zh,
            "title_en": event.title_en,
            "went_live_at": iso(event.went_live_at.timestamp()) if event.went_live_at else None,
        },
        "minutes": cert.minutes,
        "required_minutes": cert.required_minutes,
        "issued_at": iso(cert.issued_at.timestamp()),
        "url": f"{base_url}/certificates/{code}",
    }


def record_json(r: Record, cert: Certificate | None, base_url: str) -> dict[str, Any]:
    return {
        "participant_id": r.participant_id,
        "name": r.name,
        "organisation": r.organisation,
        "stakeholder": r.stakeholder,
        "minutes": r.minutes,
        "live_minutes": round(r.live_seconds / 60, 1),
        "replay_minutes": round(r.replay_seconds / 60, 1),
        "questions": r.questions,
        "eligible": r.eligible,
        "certificate": None
        if cert is None
        else {"code": format_code(cert.code), "url": f"{base_url}/certificates/{format_code(cert.code)}"},
    }


def training_json(loaded: Loaded, base_url: str) -> dict[str, Any]:
    event = loaded.event
    return {
        "min_minutes": event.training_min_minutes,
        "counts_replay": event.training_counts_replay,
        "certificates_issued": event.state in certificates.ISSUED_FROM and event.training_min_minutes is not None,
        "records": [record_json(r, loaded.certificates.get(r.participant_id), base_url) for r in loaded.records or []],
    }


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


async def own_status(loaded: Loaded) -> dict[str, Any]:
    """What a participant sees of their own training record."""
    event, caller = loaded.event, loaded.caller
    if caller is None or caller.participant is None:
        raise ApiError(401, "unauthorized", "join the event first")
    pid = caller.participant.id
    record = next((r for r in loaded.records or [] if r.participant_id == pid), None)
    cert = loaded.certificates.get(pid)
    base = loaded.c.settings.base_url
    return {
        "training": event.training_min_minutes is not None,
        "required_minutes": event.training_min_minutes,
        "counts_replay": event.training_counts_replay,
        "registered": bool(caller.participant.name) and not caller.participant.anonymous,
        "minutes": record.minutes if record else 0,
        "eligible": bool(record and record.eligible),
        "certificate": certificate_json(cert, event, base) if cert else None,
    }


@doc("My training record and certificate for this event", roles="participants", tag="reports")
async def my_certificate(request: Request) -> JSONResponse:
    async with ctx(request).session() as session:
        loaded = await gather(request, session, roles=None)
        body = await own_status(loaded)
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
