"""The web shell: server-rendered pages (Jinja2, autoescaped); live parts are our own static JS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from server.auth import ADMIN_COOKIE, STAFF, Principal, Role, set_event_cookie
from server.context import ctx
from server.errors import ApiError
from server.i18n import LANG_COOKIE, LANGS, Catalogue, negotiate
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
        html = self.env.get_template(template).render(
            t=t,
            lang=lang,
            other_lang=LANGS[1] if lang == LANGS[0] else LANGS[0],
            stakeholders=[(code, labels[lang]) for code, labels in STAKEHOLDERS.items()],
            path=request.url.path,
            **values,
        )
        response = HTMLResponse(html, status)
        if request.query_params.get("lang") in LANGS:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
        return response


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
    items = [{"event": e, "title": _title(e, lang)} for e in events]
    return pages(request).render(request, "index.html", items=items)


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
    if roles is not None and (caller is None or caller.role not in roles):
        return pages(request).render(request, "error.html", 403, message_key="staff.forbidden")
    return pages(request).render(request, template, event=event, title=_title(event, lang), caller=_caller_view(caller))


def _caller_view(caller: Principal | None) -> dict[str, Any] | None:
    if caller is None:
        return None
    p = caller.participant
    return {"role": caller.role.value, "name": p.name if p else "", "anonymous": bool(p and p.anonymous)}


async def event_page(request: Request) -> Response:
    return await _event_page(request, "event.html", None)


async def studio_page(request: Request) -> Response:
    return await _event_page(request, "studio.html", frozenset({Role.EXPERT, Role.ADMIN}))


async def moderate_page(request: Request) -> Response:
    return await _event_page(request, "moderate.html", frozenset({Role.MODERATOR, Role.ADMIN}))


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


routes = [
    Route("/", index, methods=["GET"]),
    Route("/e/{slug}", event_page, methods=["GET"]),
    Route("/e/{slug}/studio", studio_page, methods=["GET"]),
    Route("/e/{slug}/moderate", moderate_page, methods=["GET"]),
    Route("/e/{slug}/enter", enter, methods=["GET"]),
    Mount("/static", app=StaticFiles(directory=WEB / "static"), name="static"),
]
