"""The web shell: server-rendered pages (Jinja2, autoescaped); live parts are our own static JS."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from server.auth import ADMIN_COOKIE, STAFF, Principal, Role, acting_as, set_event_cookie
from server.context import ctx
from server.errors import ApiError
from server.i18n import LANG_COOKIE, LANGS, Catalogue, negotiate
from server.messages import format_message
from server.reports.present import zone
from server.services import events as event_service
from server.stakeholders import STAKEHOLDERS

WEB = Path(__file__).resolve().parents[1] / "web"


class Pages:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.env = Environment(
            loader=FileSystemLoader(WEB / "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        lang = negotiate(request)
        t = self.catalogue.for_lang(lang)
        # One time-zone rule for every date a page shows (events, search, reports, certificates).
        tz = zone(ctx(request).settings.report_timezone)
        html = self.env.get_template(template).render(
            t=t,
            lang=lang,
            other_lang=LANGS[1] if lang == LANGS[0] else LANGS[0],
            stakeholders=[(code, labels[lang]) for code, labels in STAKEHOLDERS.items()],
            path=request.url.path,
            msg=lambda key, **v: format_message(t[key], lang, **v),
            local=lambda moment, pattern="%Y-%m-%d %H:%M": local_time(moment, tz, pattern),
            utc_iso=lambda moment: local_time(moment, UTC, "%Y-%m-%dT%H:%M:%SZ"),
            tz_name=str(getattr(tz, "key", None) or tz),
            **values,
        )
        response = HTMLResponse(html, status)
        if request.query_params.get("lang") in LANGS:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
        return response


def local_time(moment: datetime | None, tz: tzinfo, pattern: str) -> str:
    """A stored moment (naive ones are UTC, as SQLite returns them) in the deployment's time zone."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz).strftime(pattern)


def pages(request: Request) -> Pages:
    p: Pages = request.app.state.pages
    return p


def _title(event: Any, lang: str) -> str:
    return str(event.title_en if lang == "en" and event.title_en else event.title_zh)


async def index(request: Request) -> Response:
    c = ctx(request)
    async with c.session() as session:
        events = await event_service.list_events(session)
    lang = negotiate(request)
    return pages(request).render(request, "index.html", groups=_grouped(events, lang))


# The list a visitor reads: what is on now, what comes next (soonest first), then what is over (latest first).
LIST_GROUPS = (("live", ("live",)), ("scheduled", ("scheduled",)), ("ended", ("ended", "archived")))


def _grouped(events: list[Any], lang: str) -> list[dict[str, Any]]:
    def upcoming(e: Any) -> tuple[bool, datetime, int]:
        moment = e.went_live_at or e.starts_at
        return (moment is None, _aware(moment or e.created_at), e.id)

    def over(e: Any) -> tuple[datetime, int]:
        return (_aware(e.ended_at or e.went_live_at or e.starts_at or e.created_at), e.id)

    out = []
    for key, states in LIST_GROUPS:
        mine = [e for e in events if e.state in states]
        if key == "ended":
            mine.sort(key=over, reverse=True)
        else:
            mine.sort(key=upcoming)
        if mine:
            out.append({"key": key, "items": [{"event": e, "title": _title(e, lang)} for e in mine]})
    return out


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _event_page(request: Request, template: str, roles: frozenset[Role] | None) -> Response:
    c = ctx(request)
    lang = negotiate(request)
    async with c.session() as session:
        try:
            event, caller = await c.event_and_caller(request, session)
        except ApiError as exc:
            if exc.status == 404:
                return pages(request).render(request, "error.html", 404, message_key="event.not_found")
            raise
    if roles is not None:
        caller = acting_as(caller, roles)
        if caller is None:
            return pages(request).render(request, "error.html", 403, message_key="staff.forbidden")
    view = _caller_view(caller)
    data = {
        "slug": event.slug,
        "state": event.state,
        "kind": event.kind,
        "title": _title(event, lang),
        "join_policy": event.join_policy,
        "allow_anonymous": event.allow_anonymous,
        "moderation_mode": event.moderation_mode,
        "topics": list(event.topics or []),
        "starts_at": event.starts_at.isoformat() if event.starts_at else None,
        "caller": view,
        "stakeholders": {code: labels[lang] for code, labels in STAKEHOLDERS.items()},
    }
    share_url = f"{c.settings.base_url}/e/{event.slug}"
    return pages(request).render(
        request,
        template,
        event=event,
        title=_title(event, lang),
        caller=view,
        page_data=data,
        share_url=share_url,
        mail_enabled=c.mailer.enabled,
    )


def _caller_view(caller: Principal | None) -> dict[str, Any] | None:
    if caller is None:
        return None
    p = caller.participant
    return {
        "role": caller.role.value,
        "participant_id": p.id if p else None,
        "name": p.name if p else "",
        "organisation": p.organisation if p else "",
        "stakeholder": p.stakeholder if p else None,
        "anonymous": bool(p and p.anonymous),
        "standing": p.standing if p else "active",
    }


async def event_page(request: Request) -> Response:
    return await _event_page(request, "event.html", None)


async def studio_page(request: Request) -> Response:
    return await _event_page(request, "studio.html", frozenset({Role.EXPERT, Role.ADMIN}))


async def moderate_page(request: Request) -> Response:
    return await _event_page(request, "moderate.html", frozenset({Role.MODERATOR, Role.ADMIN}))


async def present_page(request: Request) -> Response:
    """The present view for the room or the stream: public content only, so anyone may open it."""
    return await _event_page(request, "present.html", None)


async def enter(request: Request) -> Response:
    """An invite link: check the token, keep it in an HttpOnly cookie, go to the right page."""
    c = ctx(request)
    token = request.query_params.get("token", "")
    async with c.session() as session:
        try:
            event, caller = await c.event_and_caller(request, session)
        except ApiError as exc:
            key = "event.not_found" if exc.status == 404 else "staff.forbidden"
            return pages(request).render(request, "error.html", exc.status, message_key=key)
    if caller is None or caller.role not in STAFF:
        return pages(request).render(request, "error.html", 403, message_key="staff.forbidden")
    target = "studio" if caller.role == Role.EXPERT else "moderate"
    response = RedirectResponse(f"/e/{event.slug}/{target}", 303)
    if caller.role == Role.ADMIN:
        response.set_cookie(ADMIN_COOKIE, token, httponly=True, samesite="lax", secure=c.settings.secure_cookies)
    else:
        set_event_cookie(response, event.slug, token, c.settings.invite_ttl_hours, c.settings.secure_cookies)
    return response


async def _is_admin(request: Request) -> bool:
    c = ctx(request)
    async with c.session() as session:
        try:
            caller = await c.caller(request, session, None)
        except ApiError:
            return False
    return acting_as(caller, frozenset({Role.ADMIN})) is not None


async def admin_page(request: Request) -> Response:
    """The organiser's page; without the admin cookie it asks for the admin token."""
    if not await _is_admin(request):
        failed = "failed" in request.query_params
        return pages(request).render(request, "admin_signin.html", 401 if failed else 200, request_failed=failed)
    lang = negotiate(request)
    data = {
        "stakeholders": {code: labels[lang] for code, labels in STAKEHOLDERS.items()},
        "base_url": ctx(request).settings.base_url,
    }
    return pages(request).render(request, "admin.html", page_data=data)


async def admin_enter(request: Request) -> Response:
    """`/admin/enter?token=ADMIN_TOKEN`: keep the admin token in an HttpOnly cookie and open the admin page."""
    c = ctx(request)
    token = request.query_params.get("token", "")
    if not c.tokens.is_admin(token):
        return RedirectResponse("/admin?failed=1", 303)
    response = RedirectResponse("/admin", 303)
    response.set_cookie(ADMIN_COOKIE, token, httponly=True, samesite="lax", secure=c.settings.secure_cookies)
    return response


async def admin_leave(request: Request) -> Response:
    response = RedirectResponse("/admin", 303)
    response.delete_cookie(ADMIN_COOKIE)
    return response


# Browser libraries installed from npm at build time (`make install`: web/package.json), served as our own.
VENDOR = {"hls.mjs": WEB / "node_modules" / "hls.js" / "dist" / "hls.light.min.mjs"}
# A vendored file changes only with web/package-lock.json, i.e. with a deploy.
VENDOR_CACHE = "public, max-age=86400"


async def vendor(request: Request) -> Response:
    path = VENDOR.get(request.path_params["name"])
    if path is None or not path.is_file():
        return Response("not installed: run `make install`", 404, media_type="text/plain")
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": VENDOR_CACHE})


routes = [
    Route("/", index, methods=["GET"]),
    Route("/static/vendor/{name}", vendor, methods=["GET", "HEAD"]),
    Route("/admin", admin_page, methods=["GET"]),
    Route("/admin/enter", admin_enter, methods=["GET"]),
    Route("/admin/leave", admin_leave, methods=["GET"]),
    Route("/e/{slug}", event_page, methods=["GET"]),
    Route("/e/{slug}/studio", studio_page, methods=["GET"]),
    Route("/e/{slug}/moderate", moderate_page, methods=["GET"]),
    Route("/e/{slug}/enter", enter, methods=["GET"]),
    Route("/e/{slug}/present", present_page, methods=["GET"]),
    Mount("/static", app=StaticFiles(directory=WEB / "static"), name="static"),
]
