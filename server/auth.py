"""Who is asking: admin bearer token, or a participant's signed token (Bearer, cookie or `?token=`)."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection
from starlette.responses import Response

from server.db.models import Event, Participant
from server.errors import ApiError

ADMIN_COOKIE = "sitecast_admin"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Role(StrEnum):
    VIEWER = "viewer"
    EXPERT = "expert"
    MODERATOR = "moderator"
    ADMIN = "admin"


STAFF = frozenset({Role.EXPERT, Role.MODERATOR, Role.ADMIN})
MODERATORS = frozenset({Role.MODERATOR, Role.ADMIN})


def event_cookie(slug: str) -> str:
    return f"sitecast_{slug}"


def set_event_cookie(response: Response, slug: str, token: str, max_age_hours: float, secure: bool) -> None:
    response.set_cookie(
        event_cookie(slug),
        token,
        max_age=int(max_age_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


def new_nonce() -> str:
    return secrets.token_hex(8)


# Tokens whose signature was checked, kept so a busy voter's every request skips the HMAC and the JSON:
# a signed token never changes meaning (the row still decides expiry and revocation). Bounded; cleared
# when full, which costs only a re-check.
READ_CACHE_SIZE = 20_000


class Tokens:
    """Participant tokens: signed {participant id, nonce}; the row decides expiry and revocation."""

    def __init__(self, secret: str, admin_token: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt="sitecast.participant")
        self._admin = admin_token
        self._read: dict[str, tuple[int, str]] = {}

    def issue(self, participant: Participant) -> str:
        return self._serializer.dumps({"p": participant.id, "n": participant.token_nonce})

    def read(self, token: str) -> tuple[int, str] | None:
        found = self._read.get(token)
        if found is not None:
            return found
        found = self._verify(token)
        if found is not None:
            if len(self._read) >= READ_CACHE_SIZE:
                self._read.clear()
            self._read[token] = found
        return found

    def _verify(self, token: str) -> tuple[int, str] | None:
        try:
            data = self._serializer.loads(token)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("p"), int) or not isinstance(data.get("n"), str):
            return None
        return data["p"], data["n"]

    def is_admin(self, token: str) -> bool:
        return bool(self._admin) and hmac.compare_digest(token.encode(), self._admin.encode())


@dataclass(frozen=True)
class Principal:
    role: Role
    participant: Participant | None
    via_cookie: bool
    # Other valid cookies the browser sent (e.g. the organiser's admin cookie beside the event cookie of
    # a viewer they joined as): `require` falls back to one of them when this principal lacks the role.
    alternates: tuple[Principal, ...] = ()

    @property
    def participant_id(self) -> int | None:
        return self.participant.id if self.participant else None


def _bearer(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def check_origin(conn: HTTPConnection, base_url: str) -> None:
    """Cookie-authenticated writes and WebSocket upgrades must come from our own origin."""
    origin = conn.headers.get("origin")
    if origin is None:
        raise ApiError(403, "bad_origin", "cookie-authenticated requests must carry an Origin header")
    host = conn.headers.get("host", "")
    allowed = {base_url.rstrip("/"), f"http://{host}", f"https://{host}"}
    if origin.rstrip("/") not in allowed:
        raise ApiError(403, "bad_origin", f"requests from {origin} are not allowed")


def candidate_tokens(conn: HTTPConnection, slug: str | None) -> list[tuple[str, bool]]:
    """Tokens the connection offers, most explicit first, each flagged True when it came from a cookie."""
    found: list[tuple[str, bool]] = []
    bearer = _bearer(conn)
    if bearer:
        found.append((bearer, False))
    query = conn.query_params.get("token")
    if query:
        found.append((query, False))
    if slug is not None and (cookie := conn.cookies.get(event_cookie(slug))):
        found.append((cookie, True))
    if cookie := conn.cookies.get(ADMIN_COOKIE):
        found.append((cookie, True))
    return found


class EventKey(Protocol):
    """What a principal is checked against: an event row, or the hot commands' lookup of one."""

    @property
    def id(self) -> int: ...

    @property
    def slug(self) -> str: ...


LoadParticipant = Callable[[int], Awaitable[Participant | None]]


async def principal_for(
    conn: HTTPConnection, session: AsyncSession, tokens: Tokens, event: Event | None, *, base_url: str
) -> Principal | None:
    """The caller's principal for `event` (or globally when None); None when anonymous.

    A token that is present but invalid, expired or revoked is a 401, not silently anonymous.
    """

    async def load(participant_id: int) -> Participant | None:
        return await session.get(Participant, participant_id)

    return await resolve_principal(conn, tokens, event, load, base_url=base_url)


def wanted_participant(conn: HTTPConnection, tokens: Tokens, slug: str) -> int | None:
    """The participant `resolve_principal` will load first, so a caller can fetch it with its other rows."""
    for token, _via_cookie in candidate_tokens(conn, slug):
        if not tokens.is_admin(token) and (parsed := tokens.read(token)) is not None:
            return parsed[0]
    return None


async def resolve_principal(
    conn: HTTPConnection, tokens: Tokens, event: EventKey | None, load: LoadParticipant, *, base_url: str
) -> Principal | None:
    """`principal_for` with the participant rows read by `load` (the request's session, or rows the hot
    commands fetched together with the event and the question)."""
    offered = candidate_tokens(conn, event.slug if event else None)
    found: list[Principal] = []
    for token, via_cookie in offered:
        principal = await _principal_of(token, via_cookie, load, tokens, event)
        if principal is None:
            continue
        found.append(principal)
        if not via_cookie:
            break  # an explicit token speaks alone
    if not found:
        return None
    primary = found[0]
    if len(found) > 1:
        primary = replace(primary, alternates=tuple(found[1:]))
    if primary.via_cookie and conn.scope["type"] == "http" and conn.scope["method"] not in SAFE_METHODS:
        check_origin(conn, base_url)
    return primary


async def _principal_of(
    token: str, via_cookie: bool, load: LoadParticipant, tokens: Tokens, event: EventKey | None
) -> Principal | None:
    """The principal one token stands for; None for an unusable cookie (treated as absent), an error for an
    unusable explicit token."""
    if tokens.is_admin(token):
        return Principal(Role.ADMIN, None, via_cookie)
    parsed = tokens.read(token)
    if parsed is None:
        if via_cookie:
            return None  # a stale cookie from an earlier secret: treat as absent
        raise ApiError(401, "bad_token", "token is not valid")
    participant = await load(parsed[0])
    now = datetime.now(UTC)
    if (
        participant is None
        or participant.token_nonce != parsed[1]
        or participant.revoked_at is not None
        or (participant.expires_at is not None and participant.expires_at <= now)
    ):
        if via_cookie:
            return None
        raise ApiError(401, "bad_token", "token has expired or was revoked")
    if event is None or participant.event_id != event.id:
        if via_cookie:
            return None
        raise ApiError(403, "wrong_event", "this token belongs to another event")
    return Principal(Role(participant.role), participant, via_cookie)


def acting_as(principal: Principal | None, roles: frozenset[Role]) -> Principal | None:
    """The principal (or one of its alternates) that holds one of `roles`; None when none does."""
    if principal is None:
        return None
    for candidate in (principal, *principal.alternates):
        if candidate.role in roles:
            return candidate
    return None


def require(principal: Principal | None, roles: frozenset[Role]) -> Principal:
    if principal is None:
        raise ApiError(401, "unauthorized", "sign in or join the event first")
    chosen = acting_as(principal, roles)
    if chosen is None:
        needed = " or ".join(sorted(roles))
        raise ApiError(403, "forbidden", f"this needs the {needed} role; you are {principal.role}")
    return chosen
