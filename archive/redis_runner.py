"""The scale-out runner: saq (a maintained asyncio job queue on Redis) carries job ids to any number
of `python -m server worker` processes, on any machines that share the database and MEDIA_DIR.

Why saq: asyncio-native, maintained, and it has what surviving a killed worker needs — each job
heartbeats while it runs, and every worker's sweep hands a job whose heartbeat stopped to another
worker. (arq has been in maintenance-only mode since 2025; taskiq needs a broker, a result backend
and its own acknowledgement setup for the same.) The database stays the record of each job's
state, progress and error (archive/store.py): saq delivers, the store decides, so a job delivered
twice still runs once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from saq import Queue, Worker

from archive.pipeline import Archiver
from archive.runner import worker_name

logger = logging.getLogger("sitecast.archive")

FUNCTION = "sitecast.archive.run"
# saq gives a job whose worker vanished (no heartbeat) to another worker while deliveries remain.
DELIVERIES = 5


def queue_name(prefix: str) -> str:
    return f"{prefix}:archive"


class RedisRunner:
    """Web side: submits job ids; runs nothing itself."""

    def __init__(self, redis_url: str, prefix: str, heartbeat_seconds: float, queue: Queue | None = None) -> None:
        self.queue = queue or Queue.from_url(redis_url, name=queue_name(prefix))
        self.heartbeat_seconds = heartbeat_seconds
        self._own_queue = queue is None

    async def start(self) -> None:
        if self._own_queue:
            await self.queue.connect()

    async def close(self) -> None:
        if self._own_queue:
            await self.queue.disconnect()

    async def submit(self, job_ids: Iterable[int]) -> None:
        for job_id in job_ids:
            # One key per job row: while it waits or runs, submitting it again is a no-op; ttl -1
            # forgets it when done, so a later retry of the same row can be submitted again.
            await self.queue.enqueue(
                FUNCTION,
                job_id=job_id,
                key=f"archive-job-{job_id}",
                timeout=0,  # a long recording may take hours; the heartbeat is the liveness check
                heartbeat=max(1, round(self.heartbeat_seconds)),
                retries=DELIVERIES,
                ttl=-1,
            )


async def run_worker(
    archiver: Archiver, redis_url: str, prefix: str, concurrency: int, sweep_seconds: float = 5.0
) -> None:
    """`python -m server worker` with REDIS_URL: process archive jobs until SIGINT/SIGTERM."""
    heartbeat = archiver.config.heartbeat_seconds
    queue = Queue.from_url(redis_url, name=queue_name(prefix))
    runner = RedisRunner(redis_url, prefix, heartbeat, queue=queue)
    name = worker_name("saq")

    async def run(ctx: dict[str, Any], *, job_id: int) -> None:
        job = ctx["job"]

        async def on_beat(progress: float) -> None:
            await job.update(progress=progress)  # saq's heartbeat

        follow = await archiver.run(job_id, name, on_beat=on_beat)
        await runner.submit(follow)

    async def sweep_database() -> None:
        # Jobs queued while Redis was down, retries whose time has come, and jobs of a worker
        # that died after saq had given up on them: the database knows them all.
        while True:
            try:
                await runner.submit(await archiver.store.ready())
            except Exception:
                logger.warning("archive sweep failed", exc_info=True)
            await asyncio.sleep(sweep_seconds)

    tasks: list[asyncio.Task[None]] = []

    async def startup(_ctx: dict[str, Any]) -> None:
        tasks.append(asyncio.create_task(sweep_database()))

    async def shutdown(_ctx: dict[str, Any]) -> None:
        archiver.stop.set()
        for task in tasks:
            task.cancel()

    worker = Worker(
        queue,
        functions=[(FUNCTION, run)],
        concurrency=max(1, concurrency),
        startup=startup,
        shutdown=shutdown,
        timers={"sweep": max(1, round(heartbeat / 2)), "abort": 1},
        shutdown_grace_period_s=1,
    )
    await queue.connect()
    print(f"sitecast worker {name}: archive jobs from the Redis queue {queue_name(prefix)}", flush=True)
    try:
        await worker.start()
    finally:
        await queue.disconnect()
