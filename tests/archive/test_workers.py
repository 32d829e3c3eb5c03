"""Jobs survive their runner: a restarted server finishes what the previous one started, and with
REDIS_URL a worker process killed mid-transcription has its job picked up by another worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from server.db.engine import Database
from server.db.migrate import upgrade
from server.db.models import ArchiveJob
from tests.archive.recordings import Session, compose, record, requires_tools, write_wav
from tests.conftest import PG_BASE
from tests.server.test_archive import archive, archived, states
from tests.server.test_questions import Party
from tests.support import create_pg_database, drop_pg_database, live_server, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.media, requires_tools]

ROOT = Path(__file__).resolve().parents[2]
SENTENCES = (
    "Please check the settlement monitoring data every morning.",
    "Stop the excavation if the cracks in the nearby building grow wider.",
    "The shield tunnel passes under the metro line.",
)
# Long enough that one thread takes several seconds to transcribe it: time to stop its runner.
REPEATS = 5
HEARTBEAT_SECONDS = 2.0


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The embedded setup (one process, SQLite) is what the in-process runner serves."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'sitecast.db'}"
    upgrade(url)
    return url


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """Workers on several machines share PostgreSQL (and Redis)."""
    url = await create_pg_database(PG_BASE)
    try:
        upgrade(url)
        yield url
    finally:
        await drop_pg_database(PG_BASE, url)


@pytest.fixture(scope="module")
def long_speech(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    work = tmp_path_factory.mktemp("long")
    samples, _ = compose(SENTENCES * REPEATS, gap=1.0)
    return write_wav(work / "speech.wav", samples), len(samples) / 16_000


async def ended_event_with_recording(
    client: httpx.AsyncClient, media_dir: Path, speech: tuple[Path, float], work: Path
) -> Party:
    party = await Party.create(client)
    await client.post(f"{party.base}/state", json={"state": "live"}, headers=party.expert)
    wav, seconds = speech
    record(media_dir / party.slug, [Session(0, seconds, 0.2, time.time() - seconds)], wav, seconds, work)
    await client.post(f"{party.base}/state", json={"state": "ended"}, headers=party.expert)
    return party


def transcribing(data: dict[str, Any]) -> bool:
    job = next(j for j in data["status"]["jobs"] if j["kind"] == "transcript")
    return bool(job["state"] == "running" and job["progress"] > 0)


async def transcript_job(database_url: str, slug: str) -> ArchiveJob:
    from server.db.models import Event

    db = Database(database_url)
    try:
        async with db.session() as session:
            return (
                await session.execute(
                    select(ArchiveJob)
                    .join(Event, Event.id == ArchiveJob.event_id)
                    .where(Event.slug == slug, ArchiveJob.kind == "transcript")
                )
            ).scalar_one()
    finally:
        await db.dispose()


async def test_a_restarted_server_finishes_the_archive(
    sqlite_url: str, tmp_path: Path, long_speech: tuple[Path, float]
) -> None:
    database_url = sqlite_url
    settings = {
        "database_url": database_url,
        "media_dir": tmp_path / "media",
        "asr_threads": 1,
        "job_heartbeat_seconds": HEARTBEAT_SECONDS,
    }
    async with live_server(**settings) as first, httpx.AsyncClient(base_url=first.base_url, timeout=20) as client:
        party = await ended_event_with_recording(client, tmp_path / "media", long_speech, tmp_path / "work")

        async def midway() -> bool:
            return transcribing(await archive(client, party.slug))

        await wait_for(midway, 60, 0.05, message="transcription under way")
    # Shut down mid-transcription; the next server picks the job up from the database.
    async with live_server(**settings) as second, httpx.AsyncClient(base_url=second.base_url, timeout=20) as client:
        data = await archived(client, party.slug)
    assert states(data)["transcript"] == "done" and len(data["transcript"]) >= len(SENTENCES) * REPEATS - 2
    job = await transcript_job(database_url, party.slug)
    assert job.attempts == 1  # the interrupted attempt was handed back, not counted as a failure


@pytest.fixture
def worker_env(postgres_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ADMIN_TOKEN", "SECRET_KEY")}
    env.update(
        DATABASE_URL=postgres_url,
        REDIS_URL=redis_url,
        REDIS_PREFIX=f"t{uuid.uuid4().hex[:8]}",
        MEDIA_DIR=str(tmp_path / "media"),
        ASR_THREADS="1",
        JOB_CONCURRENCY="1",
        JOB_HEARTBEAT_SECONDS=str(HEARTBEAT_SECONDS),
        LOG_LEVEL="info",
    )
    return env


@pytest.fixture
def workers(worker_env: dict[str, str], tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "server", "worker"], cwd=ROOT, env=env, stdout=out, stderr=out)


async def test_a_killed_workers_job_is_picked_up_by_another_worker(
    postgres_url: str,
    redis_url: str,
    worker_env: dict[str, str],
    workers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
    long_speech: tuple[Path, float],
) -> None:
    database_url = postgres_url
    media = Path(worker_env["MEDIA_DIR"])
    async with live_server(
        database_url=database_url,
        media_dir=media,
        redis_url=redis_url,
        redis_prefix=worker_env["REDIS_PREFIX"],
        job_heartbeat_seconds=HEARTBEAT_SECONDS,
    ) as web:
        first = start_worker(worker_env, tmp_path / "worker-1.log")
        workers.append(first)
        async with httpx.AsyncClient(base_url=web.base_url, timeout=20) as client:
            party = await ended_event_with_recording(client, media, long_speech, tmp_path / "work")

            async def midway() -> bool:
                return transcribing(await archive(client, party.slug))

            await wait_for(midway, 90, 0.05, message="worker 1 transcribing")
            running = await transcript_job(database_url, party.slug)
            assert running.worker and running.worker.endswith(f":{first.pid}")
            second = start_worker(worker_env, tmp_path / "worker-2.log")
            workers.append(second)
            first.kill()  # no goodbye: no release, no last heartbeat
            first.wait(10)
            data = await archived(client, party.slug)
    logs = (tmp_path / "worker-2.log").read_text(errors="replace")
    assert states(data) == dict.fromkeys(["vod", "mp4", "transcript", "chapters", "search"], "done"), logs
    job = await transcript_job(database_url, party.slug)
    assert job.worker and job.worker.endswith(f":{second.pid}") and job.attempts == 2
    assert len(data["transcript"]) >= len(SENTENCES) * REPEATS - 2
