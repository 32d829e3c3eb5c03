"""Pages of the report and of training certificates (server-rendered; charts are inline SVG)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from archive.training import format_code, normalise_code
from server.context import ctx
from server.errors import ApiError
from server.i18n import LANGS, negotiate
from server.pages import pages
from server.polls.report import polls_section, survey_section
from server.reports import certificates
from server.reports.certificates import ISSUED_FROM
from server.reports.present import Presenter, zone
from server.reports.service import gather, own_status
from server.services.events import get_event
from server.stakeholders import STAKEHOLDERS


def _title(event: object, lang: str) -> str:
    en, zh = getattr(event, "title_en", ""), getattr(event, "title_zh", "")
    return str(en if lang == "en" and en else zh)


async def report_page(request: Request) -> Response:
    c = ctx(request)
    lang = negotiate(request)
    async with c.session() as session:
        try:
            loaded = await gather(request, session)
        except ApiError as exc:
            return _refused(request, exc)
    assert loaded.caller is not None
    p = Presenter(pages(request).catalogue, lang, zone(c.settings.report_timezone))
    event = loaded.event
    stills = await c.stills.get(event.slug)
    async with c.session() as session:
        polls_report = await polls_section(session, event, c.polls.results, p)
        survey_report = await survey_section(session, event, p)
    return pages(request).render(
        request,
        "report.html",
        event=event,
        title=_title(event, lang),
        caller_role=loaded.caller.role.value,
        report=loaded.report,
        p=p,
        charts=p.charts(loaded.report),
        stills=stills,
        records=loaded.records,
        certificates={pid: format_code(cert.code) for pid, cert in loaded.certificates.items()},
        certificates_due=event.state in ISSUED_FROM,
        grace=round(c.settings.attendance_grace_seconds),
        polls_report=polls_report,
        survey_report=survey_report,
    )


async def certificate_page(request: Request) -> Response:
    c = ctx(request)
    code = request.path_params["code"]
    async with c.session() as session:
        found = await certificates.find(session, code)
    if found is None:
        return _lookup(request, code, 404)
    cert, event = found
    if code != format_code(cert.code):
        return RedirectResponse(f"/certificates/{format_code(cert.code)}", 308)
    catalogue = pages(request).catalogue
    tz = zone(c.settings.report_timezone)
    zh, en = (Presenter(catalogue, lang, tz) for lang in LANGS)
    held = event.went_live_at or event.starts_at
    return pages(request).render(
        request,
        "certificate.html",
        cert=cert,
        event=event,
        code=format_code(cert.code),
        url=f"{c.settings.base_url}/certificates/{format_code(cert.code)}",
        zh=zh,
        en=en,
        group=STAKEHOLDERS.get(cert.stakeholder or "", {}),
        held=zh.date(held),
        issued=zh.date(cert.issued_at),
    )


def _lookup(request: Request, code: str | None, status: int = 200) -> Response:
    return pages(request).render(request, "certificate_lookup.html", status, code=code or "", not_found=status == 404)


async def lookup_page(request: Request) -> Response:
    """`/certificates?code=…`: the form, or straight to the certificate when the code is one."""
    typed = request.query_params.get("code", "").strip()
    if not typed:
        return _lookup(request, None)
    normal = normalise_code(typed)
    if normal is None:
        return _lookup(request, typed, 404)
    return RedirectResponse(f"/certificates/{format_code(normal)}", 303)


async def my_certificate_page(request: Request) -> Response:
    """A participant's own training record: their certificate when they have one, else how far they are."""
    c = ctx(request)
    lang = negotiate(request)
    async with c.session() as session:
        try:
            loaded = await gather(request, session, mine=True)
        except ApiError as exc:
            if exc.status != 401:
                return _refused(request, exc)
            event = await get_event(session, request.path_params["slug"])
            status = None
        else:
            event, status = loaded.event, own_status(loaded)
    if status is not None and status["certificate"] is not None:
        return RedirectResponse(f"/certificates/{status['certificate']['code']}", 303)
    return pages(request).render(
        request, "certificate_mine.html", event=event, title=_title(event, lang), record=status
    )


def _refused(request: Request, exc: ApiError) -> Response:
    if exc.status == 404:
        return pages(request).render(request, "error.html", 404, message_key="event.not_found")
    if exc.status in (401, 403):
        return pages(request).render(request, "error.html", 403, message_key="staff.forbidden")
    raise exc


routes = [
    Route("/e/{slug}/report", report_page, methods=["GET"]),
    Route("/e/{slug}/certificate", my_certificate_page, methods=["GET"]),
    Route("/certificates", lookup_page, methods=["GET"]),
    Route("/certificates/{code}", certificate_page, methods=["GET"]),
]
