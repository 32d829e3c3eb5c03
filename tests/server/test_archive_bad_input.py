"""Bad input fails the job that meets it, with a clear recorded error; the rest is still published."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from server.db.migrate import upgrade
from tests.archive.recordings import Session, compose, record, requires_tools, write_wav
from tests.conftest import PG_BASE
from tests.server.test_archive import archived, states
from tests.server.test_questions import Party
from tests.support import LiveServer, create_pg_database, drop_pg_database, live_server

pytestmark = [pytest.mark.media, requires_tools]


async def answered_event(client: httpx.AsyncClient) -> tuple[Party, int]:
    party = await Party.create(client)
    qid = (await party.ask(await party.viewer(), "降水会不会引起邻近管线沉降？")).json()["id"]
    await party.act(party.mod, qid, "approve")
    await client.post(f"{party.base}/state", json={"state": "live"}, headers=party.expert)
    return party, qid


async def end(client: httpx.AsyncClient, party: Party, qid: int) -> dict:  # type: ignore[type-arg]
    await party.act(party.expert, qid, "answering")
    await party.act(party.expert, qid, "answered", answer_text="先做管线保护方案。")
    await client.post(f"{party.base}/state", json={"state": "ended"}, headers=party.expert)
    return await archived(client, party.slug)


def job(data: dict, kind: str) -> dict:  # type: ignore[type-arg]
    return next(j for j in data["status"]["jobs"] if j["kind"] == kind)


async def still_published(client: httpx.AsyncClient, party: Party, qid: int, data: dict) -> None:  # type: ignore[type-arg]
    assert [q["id"] for q in data["questions"]] == [qid]
    assert states(data)["chapters"] == "done" and states(data)["search"] == "done"
    hits = (await client.get("/api/v1/search", params={"q": "管线保护"})).json()["results"]
    assert any(h["event"]["slug"] == party.slug and h["kind"] == "answer" for h in hits)
    page = await client.get(f"/e/{party.slug}/archive")
    assert page.status_code == 200 and "降水会不会引起邻近管线沉降？" in page.text


async def test_corrupt_recording(server: LiveServer, client: httpx.AsyncClient) -> None:
    party, qid = await answered_event(client)
    feed = Path(server.settings.media_dir) / party.slug
    feed.mkdir(parents=True)
    log = []
    for n in range(3):
        (feed / f"{n:06d}.ts").write_bytes(os.urandom(20_000))  # not MPEG-TS at all
        log.append(f"{n} {n}.000000 1.000000 0 {n:06d}.ts 1000.000\n")
    (feed / "segments.log").write_text("".join(log), encoding="utf-8")
    data = await end(client, party, qid)
    assert states(data)["mp4"] == "failed" and "could not be remuxed" in job(data, "mp4")["error"]
    transcript = job(data, "transcript")
    assert transcript["state"] == "failed" and transcript["attempts"] == 1  # bad input: no pointless retries
    assert "recording" in transcript["error"]
    await still_published(client, party, qid, data)


async def test_empty_recording(server: LiveServer, client: httpx.AsyncClient) -> None:
    party, qid = await answered_event(client)
    feed = Path(server.settings.media_dir) / party.slug
    feed.mkdir(parents=True)
    (feed / "segments.log").write_text("", encoding="utf-8")  # a publisher came, no keyframe ever did
    data = await end(client, party, qid)
    assert "nothing was recorded" in job(data, "vod")["error"]
    assert states(data)["transcript"] == "failed" and data["chapters"] == []
    await still_published(client, party, qid, data)


@pytest.mark.slow
async def test_recording_without_audio(server: LiveServer, client: httpx.AsyncClient, tmp_path: Path) -> None:
    party, qid = await answered_event(client)

    record(Path(server.settings.media_dir) / party.slug, [Session(0, 4, 0.2, time.time() - 1)], None, 4, tmp_path)
    data = await end(client, party, qid)
    assert states(data) == {"vod": "done", "mp4": "done", "transcript": "failed", "chapters": "done", "search": "done"}
    assert "no audio track" in job(data, "transcript")["error"]
    assert data["files"]["mp4"] and data["files"]["vtt"] is None and len(data["chapters"]) == 1
    page = await client.get(f"/e/{party.slug}/archive")
    assert '<video id="vod"' in page.text and 'kind="captions"' not in page.text
    await still_published(client, party, qid, data)


@pytest.fixture
async def server_without_model(database_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    # Its own database: on a shared one the session's server (with a model, and another media directory) runs
    # job workers too and may take this event's transcript job (it failed so in a CI run: "the recording
    # could not be opened").
    if database_url.startswith("postgresql"):
        url = await create_pg_database(PG_BASE)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'own.db'}"
    try:
        upgrade(url)
        async with live_server(
            database_url=url, media_dir=tmp_path / "media", asr_model=str(tmp_path / "no-such-model")
        ) as s:
            yield s
    finally:
        if url.startswith("postgresql"):
            await drop_pg_database(PG_BASE, url)


@pytest.mark.slow
async def test_missing_model_directory(server_without_model: LiveServer, tmp_path: Path) -> None:
    server = server_without_model
    async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as client:
        party, qid = await answered_event(client)
        samples, _ = compose(["The pit is safe."])
        wav = write_wav(tmp_path / "speech.wav", samples)

        record(server.settings.media_dir / party.slug, [Session(0, 3, 0.2, time.time() - 1)], wav, 3, tmp_path / "w")
        data = await end(client, party, qid)
        assert states(data)["transcript"] == "failed" and states(data)["mp4"] == "done"
        assert f"ASR_MODEL {tmp_path / 'no-such-model'} is not a directory" in job(data, "transcript")["error"]
        await still_published(client, party, qid, data)
