"""The job store on SQLite and PostgreSQL: who may run what, once; retries; takeover of dead workers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from archive.jobs import IllegalJobTransition, JobKind, JobState, downstream, transition
from archive.store import JobStore, now
from server.db.engine import Database
from server.db.models import ArchiveJob, Event


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def event_id(db: Database) -> int:
    async with db.session() as session:
        event = Event(slug=f"jobs-{uuid.uuid4().hex[:8]}", kind="live_qa", state="ended", title_zh="测试")
        session.add(event)
        await session.commit()
        return event.id


async def kinds(store: JobStore, event_id: int, ids: list[int]) -> list[str]:
    by_id = {j.id: j.kind for j in await store.for_event(event_id)}
    return [by_id[i] for i in ids]


async def job_id(store: JobStore, event_id: int, kind: JobKind) -> int:
    return next(j.id for j in await store.for_event(event_id) if j.kind == kind)


async def set_job(db: Database, job: int, **values: object) -> None:
    async with db.session() as session:
        await session.execute(update(ArchiveJob).where(ArchiveJob.id == job).values(**values))
        await session.commit()


async def test_jobs_run_in_dependency_order_and_each_only_once(db: Database, event_id: int) -> None:
    store = JobStore(db, stale_after=30)
    ready = await store.create_for_event(event_id)
    assert await kinds(store, event_id, ready) == ["vod"]
    assert await store.create_for_event(event_id) == ready  # idempotent
    assert len(await store.for_event(event_id)) == 5
    vod = ready[0]
    claims = await asyncio.gather(store.claim(vod, "a"), store.claim(vod, "b"), store.claim(vod, "c"))
    assert sum(c is not None for c in claims) == 1  # delivered three times, run once
    owner = next(c for c in claims if c is not None).worker
    assert await store.beat(vod, "someone-else", 0.5) is False
    assert await store.beat(vod, owner, 0.5) is True
    follow = await store.finish(vod, owner)
    assert sorted(await kinds(store, event_id, follow)) == ["chapters", "mp4", "transcript"]
    search = await job_id(store, event_id, JobKind.SEARCH)
    assert await store.claim(search, "a") is None  # its inputs are not settled yet
    chapters = await job_id(store, event_id, JobKind.CHAPTERS)
    transcript = await job_id(store, event_id, JobKind.TRANSCRIPT)
    assert await store.claim(chapters, "a") and await store.finish(chapters, "a") == []
    assert await store.claim(transcript, "a")
    # A permanent failure (bad input) settles at once: the search index still gets built.
    assert await kinds(store, event_id, await store.fail(transcript, "a", "no audio track")) == ["search"]
    jobs = {j.kind: j for j in await store.for_event(event_id)}
    assert jobs["transcript"].state == JobState.FAILED and jobs["transcript"].error == "no audio track"
    assert jobs["vod"].progress == 1.0 and jobs["vod"].finished_at is not None


async def test_transient_failures_are_retried_later_then_given_up(db: Database, event_id: int) -> None:
    store = JobStore(db, stale_after=30)
    vod = (await store.create_for_event(event_id))[0]
    for attempt in range(1, 4):
        job = await store.claim(vod, "w")
        assert job is not None and job.attempts == attempt
        follow = await store.fail(vod, "w", "database hiccup", permanent=False)
        row = next(j for j in await store.for_event(event_id) if j.id == vod)
        if attempt < 3:
            assert follow == []
            assert row.state == JobState.QUEUED and row.run_after is not None and row.run_after > now()
            assert row.error == "database hiccup"
            assert await store.ready(event_id) == []  # waits for its retry time
            await set_job(db, vod, run_after=now() - timedelta(seconds=1))
        else:
            assert row.state == JobState.FAILED  # attempts used up: what follows runs (and learns why)
            assert await kinds(store, event_id, follow) == ["mp4", "transcript", "chapters"]


async def test_a_dead_workers_job_is_taken_over(db: Database, event_id: int) -> None:
    store = JobStore(db, stale_after=5)
    vod = (await store.create_for_event(event_id))[0]
    assert await store.claim(vod, "dead")
    assert await store.claim(vod, "alive") is None  # its heartbeat is fresh
    await set_job(db, vod, heartbeat_at=now() - timedelta(seconds=6))
    assert await store.ready(event_id) == [vod]
    job = await store.claim(vod, "alive")
    assert job is not None and job.attempts == 2 and job.worker == "alive"
    assert await store.beat(vod, "dead", 0.9) is False  # the old worker learns it lost the job
    assert await store.finish(vod, "dead") == []  # and cannot settle it
    assert await kinds(store, event_id, await store.finish(vod, "alive")) == ["mp4", "transcript", "chapters"]


async def test_a_job_that_kills_its_worker_every_time_is_stopped(db: Database, event_id: int) -> None:
    store = JobStore(db, stale_after=5)
    vod = (await store.create_for_event(event_id))[0]
    for n in range(3):
        assert await store.claim(vod, f"w{n}")
        await set_job(db, vod, heartbeat_at=now() - timedelta(seconds=6))
    assert await store.claim(vod, "w3") is None
    row = next(j for j in await store.for_event(event_id) if j.id == vod)
    assert row.state == JobState.FAILED and "its worker died each time" in (row.error or "")


async def test_released_and_requeued_jobs_run_again(db: Database, event_id: int) -> None:
    store = JobStore(db, stale_after=30)
    vod = (await store.create_for_event(event_id))[0]
    assert await store.claim(vod, "w")
    await store.release(vod, "w")  # shutting down: back in the queue, the attempt not counted
    job = await store.claim(vod, "w2")
    assert job is not None and job.attempts == 1
    for follow in await store.finish(vod, "w2"):
        assert await store.claim(follow, "w2")
        await store.finish(follow, "w2")
    search = await job_id(store, event_id, JobKind.SEARCH)
    assert await store.claim(search, "w2") and await store.finish(search, "w2") == []
    ready = await store.requeue(event_id, [JobKind.TRANSCRIPT])
    assert await kinds(store, event_id, ready) == ["transcript"]
    jobs = {j.kind: j.state for j in await store.for_event(event_id)}
    assert jobs == {"vod": "done", "mp4": "done", "transcript": "queued", "chapters": "done", "search": "queued"}


def test_the_job_lifecycle() -> None:
    assert transition(JobState.QUEUED, JobState.RUNNING) == JobState.RUNNING
    assert transition(JobState.FAILED, JobState.QUEUED) == JobState.QUEUED
    with pytest.raises(IllegalJobTransition, match="job is done; from there only queued, not running"):
        transition(JobState.DONE, JobState.RUNNING)
    assert downstream(JobKind.VOD) == list(JobKind)
    assert downstream(JobKind.CHAPTERS) == [JobKind.CHAPTERS, JobKind.SEARCH]
