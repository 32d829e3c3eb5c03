"""ArchiveService: what the web app asks of the archive (start an event's jobs, retry, read their
state). Built in the app lifespan; the runner is in-process unless REDIS_URL is set."""

from __future__ import annotations

from collections.abc import Iterable

from archive.jobs import JobKind
from archive.pipeline import ArchiveConfig, Archiver
from archive.runner import InProcessRunner, JobRunner
from archive.store import JobStore
from server.db.engine import Database
from server.db.models import ArchiveJob


class ArchiveService:
    def __init__(self, db: Database, config: ArchiveConfig, runner: JobRunner | None = None) -> None:
        self.store = JobStore(db, stale_after=config.heartbeat_seconds)
        self.archiver = Archiver(db, self.store, config)
        self.runner: JobRunner = runner or InProcessRunner(
            self.archiver, config.concurrency, sweep_seconds=max(0.5, min(5.0, config.heartbeat_seconds / 3))
        )

    @classmethod
    def for_app(
        cls, db: Database, config: ArchiveConfig, redis_url: str = "", redis_prefix: str = "sitecast"
    ) -> ArchiveService:
        if not redis_url:
            return cls(db, config)
        from archive.redis_runner import RedisRunner

        return cls(db, config, RedisRunner(redis_url, redis_prefix, config.heartbeat_seconds))

    async def start(self) -> None:
        await self.runner.start()

    async def close(self) -> None:
        await self.runner.close()

    async def event_ended(self, event_id: int) -> None:
        """Create the event's archive jobs (idempotent) and start the ones that can start."""
        await self.runner.submit(await self.store.create_for_event(event_id))

    async def retry(self, event_id: int, kinds: Iterable[JobKind]) -> None:
        await self.runner.submit(await self.store.requeue(event_id, kinds))

    async def jobs(self, event_id: int) -> list[ArchiveJob]:
        return await self.store.for_event(event_id)
