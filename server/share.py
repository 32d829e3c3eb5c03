"""Sharing an event: its link as a QR code (SVG drawn here, no outside service) and an `.ics` calendar file."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import segno
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.context import ctx
from server.errors import ApiError
from server.services.events import get_event

# A calendar entry needs an end; an event scheduled without one is shown as two hours long.
DEFAULT_LENGTH = timedelta(hours=2)


def event_url(request: Request, slug: str) -> str:
    return f"{ctx(request).settings.base_url}/e/{slug}"


def qr_svg(text: str) -> bytes:
    """A QR code of `text` as SVG (medium error correction survives a poster's wear and a phone's angle)."""
    code = segno.make(text, error="m")
    out = io.BytesIO()
    code.save(out, kind="svg", scale=6, border=2, xmldecl=False, svgns=True, title=text)
    return out.getvalue()


async def qr(request: Request) -> Response:
    slug = request.path_params["slug"]
    async with ctx(request).session() as session:
        event = await get_event(session, slug)
    return Response(
        qr_svg(event_url(request, event.slug)),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=3600"},
    )


def _escape(text: str) -> str:
    """RFC 5545 TEXT: backslash, semicolon, comma and newlines escaped."""
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (RFC 5545 3.1)."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts, current = [], b""
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > (75 if not parts else 74):
            parts.append(current.decode())
            current = b""
        current += encoded
    parts.append(current.decode())
    return "\r\n ".join(parts)


def _stamp(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar(
    uid: str, title: str, url: str, starts: datetime, ends: datetime | None, description: str, now: datetime
) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Sitecast//Event//ZH",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{_stamp(now)}",
        f"DTSTART:{_stamp(starts)}",
        f"DTEND:{_stamp(ends or starts + DEFAULT_LENGTH)}",
        f"SUMMARY:{_escape(title)}",
        f"DESCRIPTION:{_escape(description)}",
        f"URL:{url}",
        f"LOCATION:{_escape(url)}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"


async def ics(request: Request) -> Response:
    slug = request.path_params["slug"]
    async with ctx(request).session() as session:
        event = await get_event(session, slug)
    if event.starts_at is None:
        raise ApiError(404, "not_scheduled", "this event has no start time yet")
    url = event_url(request, event.slug)
    title = event.title_zh + (f" / {event.title_en}" if event.title_en else "")
    body = calendar(
        uid=f"{event.slug}@{request.url.hostname or 'sitecast'}",
        title=title,
        url=url,
        starts=event.starts_at,
        ends=event.ends_at,
        description=f"{event.description_zh or ''}\n{url}".strip(),
        now=datetime.now(UTC),
    )
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{event.slug}.ics"'},
    )


routes = [
    Route("/e/{slug}/qr.svg", qr, methods=["GET"]),
    Route("/e/{slug}/event.ics", ics, methods=["GET"]),
]
