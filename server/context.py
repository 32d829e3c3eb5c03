"""What the app lifespan builds and every request uses (no module globals)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from archive.service import ArchiveService
from server.attendance import AttendanceRecorder
from server.auth import Principal, Tokens, principal_for
from server.captions.service import CaptionService
from server.db.engine import Database
from server.db.models import Event
from server.mail import Mailer
from server.media.service import MediaService
from server.metrics import Metrics
from server.polls.service import PollService
from server.questions.queries import PublicSnapshots
from server.questions.service import QuestionService
from server.ratelimit import RateLimiter
from server.realtime.bus import Bus
from server.realtime.hub import Hub
from server.realtime.shared import Shared
from server.reports.stills import Stills
from server.services.events import get_event
from server.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    db: Database
    tokens: Tokens
    metrics: Metrics
    limiter: RateLimiter
    bus: Bus
    hub: Hub
    questions: QuestionService
    media: MediaService
    attendance: AttendanceRecorder
    stills: Stills
    archive: ArchiveService
    mailer: Mailer
    polls: PollService
    captions: CaptionService
    snapshots: PublicSnapshots = field(default_factory=PublicSnapshots)
    # WebSocket connects (server/api/realtime.py): an anonymous viewer's event row by slug (only its id and
    # slug are used: what a snapshot shows is read afresh), and the public part of a viewer's snapshot per
    # (event id, channel) at one channel position, as the JSON text every viewer connecting meanwhile gets.
    # Also the subtitles track's requests (server/api/captions.py), whose ENDLIST may then come up to 2 s late.
    event_rows: Shared[str, Event] = field(default_factory=lambda: Shared(max_age_s=2.0))
    viewer_snapshots: Shared[tuple[int, str], str] = field(default_factory=lambda: Shared(max_age_s=2.0))

    def stream_state(self, slug: str) -> str:
        return self.media.state(slug)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.db.session() as session:
            yield session

    async def caller(self, conn: HTTPConnection, session: AsyncSession, event: Event | None) -> Principal | None:
        return await principal_for(conn, session, self.tokens, event, base_url=self.settings.base_url)

    async def cached_event(self, slug: str) -> Event:
        """The event row for anonymous, frequent reads (at most `event_rows.max_age_s` old; this process's own
        changes drop it at once). 404 as `get_event` for an unknown slug."""

        async def load() -> Event:
            async with self.session() as session:
                return await get_event(session, slug)

        return await self.event_rows.get(slug, 0, load)

    async def event_and_caller(self, conn: HTTPConnection, session: AsyncSession) -> tuple[Event, Principal | None]:
        event = await get_event(session, conn.path_params["slug"])
        return event, await self.caller(conn, session, event)


def ctx(conn: HTTPConnection) -> AppContext:
    context: AppContext = conn.app.state.ctx
    return context


def client_ip(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"
