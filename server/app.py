"""The Starlette app factory. Everything with I/O is built in the lifespan, never at import."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware

from archive.model import resolve_model
from archive.pipeline import ArchiveConfig
from archive.service import ArchiveService
from server import pages, report_pages, share
from server.api import archive as archive_api
from server.api import captions as captions_api
from server.api import events, health, notes, people, polls, questions, quiz, realtime, reports, survey
from server.api import media as media_api
from server.api import stage as stage_api
from server.attendance import AttendanceRecorder
from server.auth import Tokens
from server.captions.service import CaptionService
from server.captions.webvtt import GROUP_ID as SUBTITLES_GROUP
from server.captions.webvtt import media_line as subtitles_media_line
from server.context import AppContext
from server.db.engine import Database
from server.errors import HANDLERS
from server.heap import HeapSteward
from server.i18n import Catalogue
from server.mail import Mailer
from server.media.fastpath import LiveFastPath
from server.media.routes import media_routes
from server.media.service import MediaService
from server.media.stage import Stage
from server.media.transcode import PcmTap
from server.metrics import Metrics
from server.middleware import BodyLimit, RequestMetrics, SecurityHeaders
from server.polls.publisher import PollPublisher
from server.polls.results import PollResults
from server.polls.segmenter import Segmenter
from server.polls.service import PollService
from server.questions.publisher import Publisher
from server.questions.service import QuestionService
from server.questions.votes import VoteCoalescer
from server.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from server.realtime.bus import Bus
from server.realtime.hub import Hub
from server.realtime.memory_bus import MemoryBus
from server.realtime.redis_bus import RedisBus
from server.realtime.wire import RawSend
from server.reports.stills import Stills
from server.settings import Settings

# Seconds a thread may hold the GIL while another waits (Python's default is 0.005): see the lifespan.
GIL_SWITCH_INTERVAL_S = 0.001

log = logging.getLogger("sitecast")


def archive_config(settings: Settings) -> ArchiveConfig:
    return ArchiveConfig(
        media_dir=settings.media_dir,
        segment_seconds=settings.segment_seconds,
        asr_model=settings.asr_model,
        asr_threads=settings.asr_threads,
        heartbeat_seconds=settings.job_heartbeat_seconds,
        concurrency=settings.job_concurrency,
    )


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    metrics = Metrics()
    app_ref: dict[str, Starlette] = {}

    async def on_state(slug: str, state: str) -> None:
        await media_api.announce_state(app_ref["app"].state.ctx, slug, state)

    async def on_sources(slug: str, sources: list[str]) -> None:
        await media_api.announce_state(app_ref["app"].state.ctx, slug, media.state(slug))

    def audio_tap(slug: str) -> PcmTap | None:
        return app_ref["app"].state.ctx.captions.audio_tap(slug)

    async def on_stage(slug: str, stage: Stage) -> None:
        await media_api.announce_stage(app_ref["app"].state.ctx, slug, stage)

    # The MP4 remux is an archive job (archive/), so ending an event never waits for it.
    media = MediaService(
        settings.media_dir,
        segment_seconds=settings.segment_seconds,
        on_state=on_state,
        on_sources=on_sources,
        on_stage=on_stage,
        guest_seconds=settings.stage_guest_seconds,
        remux_on_end=False,
        low_rendition=settings.low_rendition,
        audio_tap=audio_tap,
        subtitles=(subtitles_media_line(), f'SUBTITLES="{SUBTITLES_GROUP}"') if settings.live_captions else None,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        settings.media_dir.mkdir(parents=True, exist_ok=True)
        # The event loop shares the GIL with aiosqlite's thread: every query is two hand-overs, and while
        # the loop is busy (a 5,000-socket fan-out) each waits for the switch interval. 1 ms instead of 5
        # keeps a moderator's approve at a few milliseconds during a fan-out instead of tens.
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        db = Database(settings.database_url)
        bus: Bus
        limiter: RateLimiter
        if settings.redis_url:
            bus = RedisBus(settings.redis_url, settings.redis_prefix, presence_stale_s=1.5 * settings.presence_seconds)
            limiter = RedisRateLimiter(bus.client, settings.redis_prefix)
        else:
            bus, limiter = MemoryBus(), MemoryRateLimiter()
        hub = Hub(bus, metrics, presence_s=settings.presence_seconds)
        publisher = Publisher(bus)
        votes = VoteCoalescer(db, publisher, audience=hub.viewers)
        poll_results = PollResults(db, PollPublisher(bus, publisher), Segmenter(), audience=hub.viewers)
        poll_service = PollService(db, PollPublisher(bus, publisher), poll_results)
        attendance = AttendanceRecorder(db, settings.attendance_flush_seconds, settings.attendance_grace_seconds)
        mailer = Mailer(settings.smtp_url, settings.mail_from)
        archive = ArchiveService.for_app(db, archive_config(settings), settings.redis_url, settings.redis_prefix)
        config = archive_config(settings)
        captions = CaptionService(
            db,
            publisher,
            settings.media_dir,
            model_dir=lambda: resolve_model(config.asr_model, config.model_root),
            enabled=settings.live_captions,
        )
        app.state.ctx = AppContext(
            settings=settings,
            db=db,
            tokens=Tokens(settings.resolved_secret(), settings.admin_token),
            metrics=metrics,
            limiter=limiter,
            bus=bus,
            hub=hub,
            questions=QuestionService(db, publisher, votes),
            media=media,
            attendance=attendance,
            stills=Stills(media),
            archive=archive,
            mailer=mailer,
            polls=poll_service,
            captions=captions,
        )
        app.state.pages = pages.Pages(Catalogue())
        heap = HeapSteward()
        await heap.start()
        await hub.start()
        await votes.start()
        await poll_results.start()
        await media.start()
        await attendance.start()
        await archive.start()
        await captions.start()
        try:
            yield
        finally:
            await archive.close()
            await mailer.close()
            await media.close()
            await captions.close()
            await attendance.close()
            await poll_service.close()
            await poll_results.close()
            await votes.close()
            await hub.close()
            await db.dispose()
            await heap.close()
            sys.setswitchinterval(switch_interval)

    routes = [
        *health.routes,
        *events.routes,
        *people.routes,
        *questions.routes,
        *notes.routes,
        *polls.routes,
        *quiz.routes,
        *survey.routes,
        *captions_api.routes,
        *stage_api.routes,
        *realtime.routes,
        *reports.routes,
        *archive_api.routes,  # before the media routes: /archive/{slug}/captions.vtt etc. are ours
        *media_routes(media, media_api.authorize),
        *report_pages.routes,
        *share.routes,
        *pages.routes,
    ]
    middleware = [
        # Outermost: keeps the server's own WebSocket send, and serves the events socket past the rest
        # (see realtime/wire.py).
        Middleware(RawSend, direct=realtime.direct_routes),
        # Live playlists, parts and segments from memory, before the router and the other middleware.
        Middleware(LiveFastPath, service=media),
        Middleware(RequestMetrics, metrics=metrics),
        Middleware(SecurityHeaders, secure=settings.secure_cookies),
        Middleware(BodyLimit, limit=settings.max_body_bytes, exempt_prefixes=("/whip", "/whep")),
    ]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers=HANDLERS, lifespan=lifespan)
    app_ref["app"] = app
    return app
