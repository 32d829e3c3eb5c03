"""Event use cases: create, edit, schedule, list and move through the lifecycle."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Event
from server.errors import ApiError, not_found
from server.lifecycle import EventState, IllegalEventTransition, JoinPolicy, transition
from server.schemas import SLUG_PATTERN, EventCreate, EventOut, EventUpdate, Links


def hash_passcode(passcode: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(passcode.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def passcode_matches(stored: str | None, given: str | None) -> bool:
    if not stored or given is None:
        return False
    _, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(given.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1)
    return hmac.compare_digest(candidate.hex(), digest)


def _slug_source(title_en: str | None, title_zh: str) -> str:
    """The English title, else the Chinese one in pinyin (质量月 → zhi-liang-yue), never a bare "event"."""
    if title_en and _slugify(title_en) != "event":
        return title_en
    from pypinyin import lazy_pinyin  # imported when first needed: its dictionaries take a while to load

    return " ".join(lazy_pinyin(title_zh, errors="ignore"))


def _slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > 48:  # cut between words (or syllables), not inside one
        slug = slug[:49].rsplit("-", 1)[0] if "-" in slug[:49] else slug[:48]
    return slug.strip("-") or "event"


_SLUG = re.compile(SLUG_PATTERN)


def valid_slug(slug: str) -> bool:
    # Only a slug we could have stored reaches a query: a NUL byte in the path is a driver error on
    # PostgreSQL, and a 10 KB "slug" is not worth a round trip.
    return _SLUG.match(slug) is not None


async def get_event(session: AsyncSession, slug: str) -> Event:
    if not valid_slug(slug):
        raise not_found("event")
    event = (await session.execute(select(Event).where(Event.slug == slug))).scalar_one_or_none()
    if event is None:
        raise not_found(f"event '{slug}'")
    return event


async def list_events(session: AsyncSession) -> list[Event]:
    rows = await session.execute(select(Event).order_by(Event.starts_at.is_(None), Event.starts_at, Event.id))
    return list(rows.scalars())


def _apply(event: Event, body: EventCreate | EventUpdate) -> None:
    for name in body.model_fields_set - {"slug", "passcode"}:
        value = getattr(body, name)
        if value is None and name not in {"starts_at", "ends_at", "training_min_minutes"}:
            continue
        setattr(event, name, value.value if hasattr(value, "value") else value)
    if body.passcode:
        event.passcode_hash = hash_passcode(body.passcode)
    if event.join_policy == JoinPolicy.PASSCODE and not event.passcode_hash:
        raise ApiError(422, "invalid", "a passcode join policy needs a passcode")
    if event.starts_at and event.ends_at and event.ends_at <= event.starts_at:
        raise ApiError(422, "invalid", "ends_at must be after starts_at")


async def create_event(session: AsyncSession, body: EventCreate) -> Event:
    slug = body.slug or _slugify(_slug_source(body.title_en, body.title_zh))
    if body.slug is None:
        base = slug
        while (await session.execute(select(Event.id).where(Event.slug == slug))).first():
            slug = f"{base}-{secrets.token_hex(2)}"
    event = Event(
        slug=slug,
        kind=body.kind.value,
        state=EventState.SCHEDULED.value,
        title_zh=body.title_zh,
        title_en=body.title_en or "",
        description_zh="",
        description_en="",
        topics=[],
        moderation_mode="pre",
        join_policy=JoinPolicy.OPEN.value,
        allow_anonymous=True,
        training_counts_replay=True,
        pre_questions=True,
    )
    _apply(event, body)
    session.add(event)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise ApiError(409, "slug_taken", f"an event with slug '{slug}' already exists") from None
    return event


async def update_event(session: AsyncSession, event: Event, body: EventUpdate) -> Event:
    if event.state in (EventState.ENDED, EventState.ARCHIVED) and body.model_fields_set & {
        "starts_at",
        "ends_at",
    }:
        raise ApiError(409, "event_over", "an ended event cannot be rescheduled")
    _apply(event, body)
    event.updated_at = datetime.now(UTC)
    await session.commit()
    return event


async def change_state(session: AsyncSession, event: Event, target: EventState) -> Event:
    try:
        event.state = transition(EventState(event.state), target).value
    except IllegalEventTransition as exc:
        raise ApiError(409, "illegal_transition", str(exc), current=exc.current, target=exc.target) from None
    now = datetime.now(UTC)
    if target == EventState.LIVE:
        event.went_live_at = now
    elif target == EventState.ENDED:
        event.ended_at = now
    await session.commit()
    return event


def links(event: Event, base_url: str) -> Links:
    root = f"{base_url}/e/{event.slug}"
    return Links(
        page=root,
        studio=f"{root}/studio",
        moderate=f"{root}/moderate",
        archive=f"{root}/archive",
        report=f"{root}/report",
        hls=f"{base_url}/live/{event.slug}/index.m3u8",
    )


def event_out(event: Event, base_url: str) -> EventOut:
    return EventOut(
        slug=event.slug,
        kind=event.kind,
        state=event.state,
        title_zh=event.title_zh,
        title_en=event.title_en,
        description_zh=event.description_zh,
        description_en=event.description_en,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        went_live_at=event.went_live_at,
        ended_at=event.ended_at,
        topics=list(event.topics),
        moderation_mode=event.moderation_mode,
        join_policy=event.join_policy,
        allow_anonymous=event.allow_anonymous,
        training_min_minutes=event.training_min_minutes,
        training_counts_replay=event.training_counts_replay,
        pre_questions=event.pre_questions,
        links=links(event, base_url),
    )
