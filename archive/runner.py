"""Runners carry job ids to the Archiver. The seam, and the in-process runner (the embedded default).

The database decides what may run (archive/store.py), so a runner is only a doorbell with a
sweeper: every few seconds it asks the database which jobs are ready — queued ones whose inputs
are settled and whose retry time has come, and running ones whose worker stopped heartbeating —
which is how jobs survive a restart. The Redis-backed runner is in archive/redis_runner.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Iterable
from typing import Protocol

from archive.pipeline import Archiver

logger = logging.getLogger("sitecast.archive")


def worker_name(kind: str) -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}"


class JobRunner(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def submit(self, job_ids: Iterable[int]) -> None:
        """Ask for these jobs to run (each runs once, when ready; unready ones are ignored)."""


class InProcessRunner:
    """Runs jobs as tasks of this process; the heavy parts go to threads (see Archiver)."""

    def __init__(self, archiver: Archiver, concurrency: int = 2, sweep_seconds: float = 5.0) -> None:
        self.archiver = archiver
        self.concurrency = max(1, concurrency)
        self.sweep_seconds = sweep_seconds
        self.name = worker_name("inproc")
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._pending: set[int] = set()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work(), name=f"archive-{i}") for i in range(self.concurrency)]
        self._tasks.append(asyncio.create_task(self._sweep(), name="archive-sweep"))

    async def close(self) -> None:
        self.archiver.stop.set()  # a transcription in a thread stops at its next line
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def submit(self, job_ids: Iterable[int]) -> None:
        for job_id in job_ids:
            if job_id not in self._pending:
                self._pending.add(job_id)
                self._queue.put_nowait(job_id)

    async def _work(self) -> None:
        while True:
            job_id = await self._queue.get()
            self._pending.discard(job_id)
            try:
                follow = await self.archiver.run(job_id, self.name)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database went away mid-job: the sweeper offers it again
                logger.exception("archive job %s could not be run", job_id)
                continue
            await self.submit(follow)

    async def _sweep(self) -> None:
        while True:
            try:
                await self.submit(await self.archiver.store.ready())
            except Exception:  # the database is briefly unreachable: try again next round
                logger.warning("archive sweep failed", exc_info=True)
            await asyncio.sleep(self.sweep_seconds)
