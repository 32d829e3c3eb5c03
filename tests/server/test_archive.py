"""The archive through the app: ending an event runs its jobs; the recording, transcript, chapters,
Q&A and search come out of the public API, the files and the page."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.archive.recordings import Session, compose, record, requires_tools, write_wav
from tests.server.test_questions import Party
from tests.support import LiveServer, wait_for

UTTERANCES = (
    "Please check the settlement monitoring data every morning.",
    "Stop the excavation if the cracks in the nearby building grow wider.",
    "The shield tunnel passes under the metro line.",
)
RECORDING_STARTS_AT = 0.25  # where the first keyframe sits on the recording clock
ARCHIVE_TIMEOUT_SECONDS = 180


async def archive(client: httpx.AsyncClient, slug: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/events/{slug}/archive")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def archived(client: httpx.AsyncClient, slug: str) -> dict[str, Any]:
    async def complete() -> dict[str, Any] | None:
        data = await archive(client, slug)
        return data if data["status"]["complete"] else None

    result: dict[str, Any] = await wait_for(complete, ARCHIVE_TIMEOUT_SECONDS, 0.2, message="archive jobs")
    return result


def states(data: dict[str, Any]) -> dict[str, str]:
    return {job["kind"]: job["state"] for job in data["status"]["jobs"]}


async def search(client: httpx.AsyncClient, q: str, slug: str | None = None, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/search", params={"q": q, "limit": 100, **params})
    assert response.status_code == 200, response.text
    return [r for r in response.json()["results"] if slug is None or r["event"]["slug"] == slug]


def moment(value: float | str) -> float:
    """A timestamp of the questions API (Unix seconds or ISO 8601) as Unix seconds."""
    return value if isinstance(value, float | int) else datetime.fromisoformat(value).timestamp()


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float, list[tuple[float, float]]]:
    work = tmp_path_factory.mktemp("speech")
    samples, marks = compose(UTTERANCES)
    return write_wav(work / "speech.wav", samples), len(samples) / 16_000, [(m.start, m.end) for m in marks]


@pytest.mark.slow
@pytest.mark.media
@requires_tools
async def test_an_ended_event_is_archived_transcribed_chaptered_and_searchable(
    server: LiveServer,
    client: httpx.AsyncClient,
    speech: tuple[Path, float, list[tuple[float, float]]],
    tmp_path: Path,
) -> None:
    wav, seconds, marks = speech
    party = await Party.create(client, title_en="Pit excavation Q&A")
    viewer = await party.viewer()
    q_zh = (await party.ask(viewer, "基坑开挖引起的沉降如何控制？")).json()["id"]
    # Each asker may ask once per rate_limit_seconds: two more viewers ask the other questions.
    q_en = (
        await party.ask(
            await party.viewer("Li"), "How often should settlement be monitored near a metro line?", anonymous=True
        )
    ).json()["id"]
    q_never = (await party.ask(await party.viewer("张工"), "未回答的问题不进入回放")).json()["id"]
    for qid in (q_zh, q_en, q_never):
        assert (await party.act(party.mod, qid, "approve")).status_code == 200
    assert (await client.post(f"{party.base}/state", json={"state": "live"}, headers=party.expert)).status_code == 200
    before = await archive(client, party.slug)
    assert before["status"]["started"] is False and before["files"]["mp4"] is None

    # What the media side leaves behind: the expert's speech, captured from `captured_at` on.
    captured_at = time.time() - 3.0
    feed = Path(server.settings.media_dir) / party.slug
    record(feed, [Session(0.0, seconds, RECORDING_STARTS_AT, captured_at)], wav, seconds, tmp_path)
    steps = [
        (q_zh, "answering", None),
        (q_zh, "answered", "分层开挖、及时支护，沉降超过预警值立即停止开挖。"),
        (q_en, "answering", None),
        (q_en, "answered", "每天监测；超过预警值后加密到每小时一次。"),
    ]
    for qid, action, text in steps:
        acted = await party.act(party.expert, qid, action, answer_text=text)
        assert acted.status_code == 200, acted.text
    listed = (await party.listing(party.mod))["questions"]
    pressed = {q["id"]: moment(q["answering_at"]) for q in listed if q["answering_at"] is not None}
    ended = await client.post(f"{party.base}/state", json={"state": "ended"}, headers=party.expert)
    assert ended.status_code == 200

    data = await archived(client, party.slug)
    assert states(data) == dict.fromkeys(["vod", "mp4", "transcript", "chapters", "search"], "done"), data["status"]
    files = data["files"]
    assert files["mp4"] and files["vtt"] and files["srt"] and files["chapters"] and files["hls"]

    # The transcript: every utterance, where it was said.
    lines = data["transcript"]
    assert len(lines) == 3, lines
    for line, (start, _end) in zip(lines, marks, strict=True):
        assert abs(line["start"] - (start + RECORDING_STARTS_AT)) <= 1.0, line
    assert "excavation" in lines[1]["text"].lower()

    # Chapters start where "answering now" was pressed, on the recording's clock.
    chapters = {c["question_id"]: c for c in data["chapters"]}
    assert set(chapters) == {q_zh, q_en}
    for qid in (q_zh, q_en):
        expected = pressed[qid] - captured_at + RECORDING_STARTS_AT
        assert abs(chapters[qid]["start"] - expected) <= 1.0, (chapters[qid], expected)
    assert chapters[q_zh]["title"] == "基坑开挖引起的沉降如何控制？"

    # The Q&A: answered ones only, with answers; the anonymous asker stays anonymous.
    questions = {q["id"]: q for q in data["questions"]}
    assert set(questions) == {q_zh, q_en}
    assert questions[q_en]["asker"] is None and questions[q_zh]["asker"]["name"] == "王工"
    assert questions[q_zh]["seconds"] == chapters[q_zh]["start"]

    # The files.
    vtt = await client.get(f"/archive/{party.slug}/captions.vtt")
    assert vtt.status_code == 200 and vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT") and vtt.text.count(" --> ") == 3 and "excavation" in vtt.text
    srt = await client.get(f"/archive/{party.slug}/captions.srt")
    assert srt.text.startswith("1\n00:00:0") and ",000 --> " not in srt.text.splitlines()[0]
    chapters_vtt = (await client.get(f"/archive/{party.slug}/chapters.vtt")).text
    assert f"q{q_zh}\n" in chapters_vtt and "基坑开挖引起的沉降如何控制？" in chapters_vtt
    mp4 = await client.get(f"/archive/{party.slug}/recording.mp4")
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4" and len(mp4.content) > 10_000
    table = await client.get(f"/archive/{party.slug}/qa.csv")
    assert table.headers["content-type"].startswith("text/csv") and table.text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(table.text.lstrip("\ufeff"))))
    assert {int(r["question_id"]) for r in rows} == {q_zh, q_en}
    row = next(r for r in rows if int(r["question_id"]) == q_zh)
    assert row["answer"].startswith("分层开挖") and row["link"].endswith(f"/e/{party.slug}/archive?q={q_zh}")

    # Search: Chinese without spaces, English words, typed answers; links go to the moment.
    hits = await search(client, "沉降", party.slug)
    assert {(h["kind"], h["question_id"]) for h in hits} >= {("question", q_zh), ("answer", q_zh)}
    hit = next(h for h in hits if h["kind"] == "question")
    assert hit["url"] == f"/e/{party.slug}/archive?t={chapters[q_zh]['start']:.1f}"
    assert hit["highlights"] == [[7, 9]]  # 基坑开挖引起的|沉降|如何控制？
    spoken = await search(client, "excavation", party.slug)
    assert [h["kind"] for h in spoken] == ["transcript"]
    assert abs(spoken[0]["seconds"] - (marks[1][0] + RECORDING_STARTS_AT)) <= 1.0
    assert spoken[0]["url"] == f"/e/{party.slug}/archive?t={spoken[0]['seconds']:.1f}"
    assert [h["question_id"] for h in await search(client, "Settlement MONITORED", party.slug)] == [q_en]
    assert [h["kind"] for h in await search(client, "预警值", party.slug)] == ["answer", "answer"]
    assert await search(client, "未回答的问题", party.slug) == []

    # The page: player with captions and chapters, transcript, Q&A.
    page = await client.get(f"/e/{party.slug}/archive", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.text
    assert '<video id="vod"' in html and 'kind="captions"' in html and 'kind="chapters"' in html
    assert "基坑开挖引起的沉降如何控制？" in html and "Watch the answer" in html and f'href="?q={q_zh}"' in html


async def test_an_event_without_recording_still_publishes_its_qa_and_is_searchable(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    party = await Party.create(client)
    viewer = await party.viewer("陈工")
    texts = [
        "基坑开挖引起的沉降怎样监测？",
        "盾构隧道穿越既有地铁线路，沉降控制值是多少？",
        "What is the 100%_design value for BIM models?",
        "臨近建築的沉降觀測",  # Traditional characters: found by Simplified queries
    ]
    ids = []
    for n, text in enumerate(texts):
        asked = await party.ask(await party.viewer(f"观众{n}"), text)
        assert asked.status_code == 201, asked.text
        qid = asked.json()["id"]
        await party.act(party.mod, qid, "approve")
        ids.append(qid)
    await client.post(f"{party.base}/state", json={"state": "live"}, headers=party.expert)
    for qid in ids:
        await party.act(party.expert, qid, "answered", answer_text=None)
    await client.post(f"{party.base}/state", json={"state": "ended"}, headers=party.expert)

    data = await archived(client, party.slug)
    jobs = {j["kind"]: j for j in data["status"]["jobs"]}
    assert states(data) == {
        "vod": "failed",
        "mp4": "failed",
        "transcript": "failed",
        "chapters": "done",
        "search": "done",
    }
    assert "nothing was recorded" in jobs["vod"]["error"]
    assert "no recording" in jobs["transcript"]["error"]
    assert data["chapters"] == [] and data["files"]["mp4"] is None
    assert sorted(q["id"] for q in data["questions"]) == sorted(ids)
    assert all(q["seconds"] is None for q in data["questions"])

    async def found(q: str) -> list[int]:
        return sorted(h["question_id"] for h in await search(client, q, party.slug))

    assert await found("沉降") == sorted([ids[0], ids[1], ids[3]])
    assert await found("基坑沉降") == []  # the characters must be adjacent, not merely present
    assert await found("沉降控制") == [ids[1]]
    assert await found("临近建筑") == await found("沉降观测") == [ids[3]]  # Simplified query, Traditional text
    assert await found("降") == sorted([ids[0], ids[1], ids[3]])  # one character
    assert await found("bim") == [ids[2]]
    assert await found("ＢＩＭ models") == [ids[2]]  # full-width letters
    assert await found("100%_design") == [ids[2]]
    assert await found("model") == []  # English matches whole words
    assert await found("%") == [] and await found("_") == []
    hits = await search(client, "沉降", party.slug)
    assert all(h["url"] == f"/e/{party.slug}/archive?q={h['question_id']}" and h["seconds"] is None for h in hits)

    first = await client.get("/api/v1/search", params={"q": "沉降", "limit": 1})
    second = await client.get("/api/v1/search", params={"q": "沉降", "limit": 1, "offset": 1})
    assert first.json()["total"] == second.json()["total"] >= 3
    assert first.json()["results"] != second.json()["results"]
    for bad in ({"q": ""}, {"q": "x", "limit": "0"}, {"q": "x", "limit": "many"}, {"q": "x", "offset": "-1"}):
        response = await client.get("/api/v1/search", params=bad)
        assert response.status_code == 422 and response.json()["error"]["code"] == "invalid"

    # Retrying is the organiser's call; a retried job runs again (and, with no recording, fails again).
    refused = await client.post(f"{party.base}/archive/retry", json={}, headers=viewer)
    assert refused.status_code == 403
    retried = await client.post(f"{party.base}/archive/retry", json={"kinds": ["vod"]}, headers=admin)
    assert retried.status_code == 202, retried.text
    again = await archived(client, party.slug)
    assert states(again)["vod"] == "failed" and states(again)["search"] == "done"
    page = await client.get(f"/e/{party.slug}/archive")
    assert page.status_code == 200 and "本场活动没有可播放的录像" in page.text and "<video" not in page.text


async def test_archive_of_an_unknown_event_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/events/no-such-event/archive")).status_code == 404
    assert (await client.get("/archive/no-such-event/captions.vtt")).status_code == 404
    assert (await client.get("/e/no-such-event/archive")).status_code == 404
