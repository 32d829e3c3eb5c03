"""Job rows in the database: the one record of each archive job's state, whoever runs it.

Runners (in-process, or Redis-backed workers on other machines) only carry job ids; what a job
may do is decided here with conditional UPDATEs, so a job delivered twice runs once, and a job
whose worker died (no heartbeat for `stale_after` seconds) is taken over by the next runner.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from archive.jobs import DEPENDS_ON, KINDS, SETTLED, JobKind, JobState, dependents, downstream, retry_delay, transition
from server.db.engine import Database
from server.db.models import ArchiveJob

MAX_ATTEMPTS = 3
MAX_ERROR_CHARS = 2000


def now() -> datetime:
    return datetime.now(UTC)


class JobStore:
    def __init__(self, db: Database, stale_after: float) -> None:
        self.db = db
        self.stale_after = timedelta(seconds=stale_after)

    # -- creating --------------------------------------------------------------------------

    async def create_for_event(self, event_id: int) -> list[int]:
        """One job of each kind for the event (the ones it already has are kept): idempotent.
        Returns the ids of jobs ready to run."""
        async with self.db.session() as session:
            have = {j.kind for j in await self._jobs(session, event_id)}
            for kind in KINDS:
                if kind not in have:
                    session.add(
                        ArchiveJob(event_id=event_id, kind=kind, state=JobState.QUEUED, max_attempts=MAX_ATTEMPTS)
                    )
            await session.commit()
        return await self.ready(event_id=event_id)

    async def requeue(self, event_id: int, kinds: Iterable[JobKind]) -> list[int]:
        """Run `kinds` again, and everything built from them (a retry asked for by a person)."""
        wanted: list[JobKind] = []
        for kind in kinds:
            wanted += [k for k in downstream(kind) if k not in wanted]
        async with self.db.session() as session:
            for job in await self._jobs(session, event_id):
                if job.kind in wanted and job.state in SETTLED:
                    job.state = transition(JobState(job.state), JobState.QUEUED)
                    job.attempts, job.progress, job.run_after, job.queued_at = 0, 0.0, None, now()
            await session.commit()
        return await self.ready(event_id=event_id)

    # -- reading ---------------------------------------------------------------------------

    async def _jobs(self, session: AsyncSession, event_id: int) -> list[ArchiveJob]:
        rows = await session.execute(select(ArchiveJob).where(ArchiveJob.event_id == event_id))
        return list(rows.scalars())

    async def for_event(self, event_id: int) -> list[ArchiveJob]:
        async with self.db.session() as session:
            jobs = await self._jobs(session, event_id)
        order = {k: i for i, k in enumerate(KINDS)}
        return sorted(jobs, key=lambda j: order.get(JobKind(j.kind), 99))

    async def ready(self, event_id: int | None = None) -> list[int]:
        """Jobs a runner may start now: queued, due, inputs settled — or running with a dead worker."""
        at = now()
        async with self.db.session() as session:
            query = select(ArchiveJob).where(ArchiveJob.state.in_([JobState.QUEUED, JobState.RUNNING]))
            if event_id is not None:
                query = query.where(ArchiveJob.event_id == event_id)
            candidates = list((await session.execute(query)).scalars())
            if not candidates:
                return []
            events = {j.event_id for j in candidates}
            states = {
                (j.event_id, j.kind): j.state
                for j in (await session.execute(select(ArchiveJob).where(ArchiveJob.event_id.in_(events)))).scalars()
            }
        ready = []
        for job in candidates:
            if job.state == JobState.RUNNING:
                if job.heartbeat_at is None or at - job.heartbeat_at > self.stale_after:
                    ready.append(job.id)
                continue
            if job.run_after is not None and job.run_after > at:
                continue
            inputs = DEPENDS_ON[JobKind(job.kind)]
            if all(states.get((job.event_id, k)) in SETTLED for k in inputs):
                ready.append(job.id)
        return sorted(ready)

    async def inputs_done(self, job: ArchiveJob, kind: JobKind) -> bool:
        async with self.db.session() as session:
            state = (
                await session.execute(
                    select(ArchiveJob.state).where(ArchiveJob.event_id == job.event_id, ArchiveJob.kind == kind)
                )
            ).scalar_one_or_none()
        return state == JobState.DONE

    # -- running ---------------------------------------------------------------------------

    async def claim(self, job_id: int, worker: str) -> ArchiveJob | None:
        """Take the job if it is ready: atomically, so two runners never both get it."""
        if job_id not in await self.ready_ids([job_id]):
            return None
        at = now()
        is_ready = or_(
            and_(
                ArchiveJob.state == JobState.QUEUED,
                or_(ArchiveJob.run_after.is_(None), ArchiveJob.run_after <= at),
            ),
            and_(
                ArchiveJob.state == JobState.RUNNING,
                or_(ArchiveJob.heartbeat_at.is_(None), ArchiveJob.heartbeat_at < at - self.stale_after),
            ),
        )
        async with self.db.session() as session:
            result = await session.execute(
                update(ArchiveJob)
                .where(ArchiveJob.id == job_id, is_ready)
                .values(
                    state=JobState.RUNNING,
                    attempts=ArchiveJob.attempts + 1,
                    worker=worker[:80],
                    heartbeat_at=at,
                    started_at=at,
                    progress=0.0,
                    finished_at=None,
                )
                .execution_options(synchronize_session=False)
            )
            await session.commit()
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            job = await session.get(ArchiveJob, job_id)
        if job is not None and job.attempts > job.max_attempts:
            # Taken over again and again: whatever it does kills its worker (memory, a crash in a
            # native library). Stop trying; say so.
            await self.fail(job_id, worker, f"stopped after {job.max_attempts} attempts: its worker died each time")
            return None
        return job

    async def ready_ids(self, ids: Iterable[int]) -> set[int]:
        wanted = set(ids)
        async with self.db.session() as session:
            events = set(
                (await session.execute(select(ArchiveJob.event_id).where(ArchiveJob.id.in_(wanted)))).scalars()
            )
        found: set[int] = set()
        for event_id in events:
            found.update(i for i in await self.ready(event_id=event_id) if i in wanted)
        return found

    async def beat(self, job_id: int, worker: str, progress: float) -> bool:
        """Heartbeat and progress. False: the job is no longer ours (taken over, or requeued)."""
        async with self.db.session() as session:
            result = await session.execute(
                update(ArchiveJob)
                .where(ArchiveJob.id == job_id, ArchiveJob.worker == worker[:80], ArchiveJob.state == JobState.RUNNING)
                .values(heartbeat_at=now(), progress=max(0.0, min(progress, 1.0)))
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def finish(self, job_id: int, worker: str) -> list[int]:
        return await self._settle(job_id, worker, JobState.DONE, None)

    async def fail(self, job_id: int, worker: str, message: str, permanent: bool = True) -> list[int]:
        """Record the failure; a transient one is retried later while attempts remain."""
        message = message[:MAX_ERROR_CHARS]
        async with self.db.session() as session:
            job = await session.get(ArchiveJob, job_id)
            if job is None or job.worker != worker[:80] or job.state != JobState.RUNNING:
                return []
            if not permanent and job.attempts < job.max_attempts:
                job.state = transition(JobState(job.state), JobState.QUEUED)
                job.error = message
                job.run_after = now() + timedelta(seconds=retry_delay(job.attempts))
                await session.commit()
                return []
        return await self._settle(job_id, worker, JobState.FAILED, message)

    async def release(self, job_id: int, worker: str) -> None:
        """A runner shutting down hands the job back, to run again from the start."""
        async with self.db.session() as session:
            await session.execute(
                update(ArchiveJob)
                .where(ArchiveJob.id == job_id, ArchiveJob.worker == worker[:80], ArchiveJob.state == JobState.RUNNING)
                .values(state=JobState.QUEUED, attempts=ArchiveJob.attempts - 1, worker=None, progress=0.0)
                .execution_options(synchronize_session=False)
            )
            await session.commit()

    async def _settle(self, job_id: int, worker: str, state: JobState, error: str | None) -> list[int]:
        async with self.db.session() as session:
            job = await session.get(ArchiveJob, job_id)
            if job is None or job.worker != worker[:80] or job.state != JobState.RUNNING:
                return []  # taken over meanwhile: the new owner settles it
            job.state = transition(JobState(job.state), state)
            job.error = error
            job.progress = 1.0 if state == JobState.DONE else job.progress
            job.finished_at = now()
            job.run_after = None
            event_id, kind = job.event_id, JobKind(job.kind)
            await session.commit()
        follow = {k.value for k in dependents(kind)}
        async with self.db.session() as session:
            ids = set(
                (
                    await session.execute(
                        select(ArchiveJob.id).where(ArchiveJob.event_id == event_id, ArchiveJob.kind.in_(follow))
                    )
                ).scalars()
            )
        return sorted(i for i in await self.ready(event_id=event_id) if i in ids)
