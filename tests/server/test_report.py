"""The event report over HTTP, from a scripted event (known joins, questions, actions), asserted exactly."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from tests.archive.scripted import BUSY_MINUTES
from tests.conftest import ADMIN
from tests.server.scripted_event import Scripted, at, play
from tests.support import LiveServer


@pytest.fixture(scope="module")
async def scripted(server: LiveServer) -> Scripted:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as client:
        return await play(server, client)


@pytest.fixture(scope="module")
async def body(server: LiveServer, scripted: Scripted) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as client:
        response = await client.get(f"/api/v1/events/{scripted.slug}/report", headers=ADMIN)
    assert response.status_code == 200, response.text
    return dict(response.json())


def iso(seconds: float) -> str:
    return at(seconds).isoformat().replace("+00:00", "Z")


async def test_attendance_counts_each_viewer_once_across_tabs_reconnects_and_processes(body: dict[str, Any]) -> None:
    a = body["attendance"]
    assert (a["joined"], a["registered"], a["viewers"], a["live_viewers"], a["replay_viewers"]) == (6, 5, 6, 5, 2)
    assert (a["live_minutes"], a["replay_minutes"], a["average_live_minutes"]) == (105.0, 40.0, 21.0)
    assert (a["peak_concurrent"], a["peak_at"], a["average_concurrent"]) == (4, iso(1200), 1.75)
    viewers = [point["viewers"] for point in a["viewers_over_time"]]
    assert viewers == [3, 3, 3, 4, 4, 4, 4, 3, 3, 3, 2, 2, 2, 2, 1, 1] + [2] * 18 + [1] * 24 + [2, 2]
    assert a["viewers_over_time"][0]["t"] == iso(1000) and a["step_seconds"] == 60
    groups = {g["stakeholder"]: g for g in a["by_stakeholder"]}
    assert groups["construction"] == {
        "stakeholder": "construction",
        "joined": 2,
        "live_viewers": 1,
        "replay_viewers": 1,
        "live_minutes": 33.3,
        "replay_minutes": 30.0,
    }
    assert (groups["design"]["live_minutes"], groups["design"]["replay_minutes"]) == (53.3, 10.0)
    assert (groups["owner"]["joined"], groups["owner"]["live_viewers"]) == (1, 0)
    assert (groups[None]["joined"], groups[None]["live_viewers"], groups[None]["live_minutes"]) == (0, 2, 8.3)


async def test_question_numbers(body: dict[str, Any]) -> None:
    q = body["questions"]
    totals = {k: q[k] for k in ("submitted", "pre_submitted", "approved", "answered", "rejected", "merged", "pending")}
    assert totals == {
        "submitted": 9,
        "pre_submitted": 2,
        "approved": 5,
        "answered": 3,
        "rejected": 2,
        "merged": 1,
        "pending": 2,
    }
    assert (q["answer_rate"], q["median_answer_seconds"], q["median_approval_seconds"]) == (0.5, 600, 25)
    groups = {g["stakeholder"]: (g["submitted"], g["answered"], g["answer_rate"]) for g in q["by_stakeholder"]}
    assert groups == {
        "owner": (1, 0, 0.0),
        "design": (2, 1, 1.0),
        "supervision": (1, 0, None),
        "construction": (4, 2, 0.6667),
        "public": (1, 0, 0.0),
    }
    topics = {t["topic"]: (t["submitted"], t["pre_submitted"], t["answered"], t["answer_rate"]) for t in q["by_topic"]}
    assert topics == {"基坑": (4, 1, 1, 0.3333), "盾构": (2, 0, 1, 1.0), "降水": (1, 1, 1, 1.0), None: (2, 0, 0, 0.0)}
    busy = {i: (p["submitted"], p["answered"]) for i, p in enumerate(q["over_time"]) if p["submitted"] or p["answered"]}
    assert busy == BUSY_MINUTES


async def test_most_voted_questions_with_answers_and_links(
    body: dict[str, Any], scripted: Scripted, server: LiveServer
) -> None:
    top = body["questions"]["top"]
    ids = scripted.questions
    assert [(t["id"], t["votes"]) for t in top] == [(ids["q3"], 3), (ids["q1"], 2), (ids["q2"], 1), (ids["q4"], 0)]
    assert top[0]["asker"] is None and top[0]["stakeholder"] == "public"  # asked anonymously
    assert top[1]["asker"] == "王工" and top[1]["answer_text"] == "一般每天两次，变形加速时加密。"
    assert top[1]["link"] == f"{server.base_url}/e/{scripted.slug}/archive?q={ids['q1']}"
    assert [t["pre_submitted"] for t in top] == [False, False, False, True]


async def test_moderation_summary(body: dict[str, Any]) -> None:
    m = body["moderation"]
    assert m["actions"] == {
        "approve": 5,
        "answered": 3,
        "answering": 3,
        "reject": 2,
        "standing": 2,
        "edit": 1,
        "merge": 1,
        "settings": 1,  # the rate limit, lifted for the script
    }
    assert m["reject_reasons"] == {"off_topic": 1, "spam": 1}
    assert (m["muted"], m["banned"], m["actors"]) == (1, 1, 3)


async def test_no_recording_means_no_pictures(body: dict[str, Any]) -> None:
    assert body["pictures"] == {"recording": False, "stills": []}
    assert "training" not in body  # no minimum set: no training records


async def test_report_csv_opens_in_excel_with_chinese(client: httpx.AsyncClient, scripted: Scripted) -> None:
    response = await client.get(f"/api/v1/events/{scripted.slug}/report.csv", headers=ADMIN)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert f'filename="{scripted.slug}-report.csv"' in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf") and b"\r\n" in response.content
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert ["观众（直播）", "5"] in rows and ["峰值同时在线", "4"] in rows
    assert ["施工单位", "2", "1", "1", "33.3", "30"] in rows
    english = await client.get(f"/api/v1/events/{scripted.slug}/report.csv?lang=en", headers=ADMIN)
    rows = list(csv.reader(io.StringIO(english.content.decode("utf-8-sig"))))
    assert ["Peak concurrent viewers", "4"] in rows
    assert any(
        r[:2] == ["1", "3"] and r[3] == "Member of the public / home buyer" and r[4] == "Anonymous" for r in rows
    )


async def test_attendance_csv_per_viewer_and_per_span(client: httpx.AsyncClient, scripted: Scripted) -> None:
    response = await client.get(f"/api/v1/events/{scripted.slug}/attendance.csv?lang=en", headers=ADMIN)
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    wang = next(r for r in rows if r["Name"] == "王工")
    assert (wang["Live minutes"], wang["Replay minutes"], wang["Visits"], wang["Questions asked"]) == (
        "33.3",
        "0",
        "1",
        "2",
    )
    assert wang["First joined (Asia/Shanghai)"] == "2026-09-01 14:15:00"
    assert len(rows) == 8  # six participants, one anonymous browser, one unrecognisable connection
    spans = await client.get(f"/api/v1/events/{scripted.slug}/attendance.csv?detail=spans&lang=en", headers=ADMIN)
    span_rows = list(csv.DictReader(io.StringIO(spans.content.decode("utf-8-sig"))))
    assert len(span_rows) == 12 and {r["Mode"] for r in span_rows} == {"Live", "Replay"}


@pytest.mark.parametrize("path", ["report", "report.csv", "attendance.csv", "training", "training.csv"])
async def test_only_moderators_and_the_admin_see_reports(
    client: httpx.AsyncClient, scripted: Scripted, path: str
) -> None:
    url = f"/api/v1/events/{scripted.slug}/{path}"
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=scripted.people["wang"])).status_code == 403
    assert (await client.get(url, headers=scripted.party.expert)).status_code == 403
    assert (await client.get(url, headers=scripted.party.mod)).status_code in (200, 409)


async def test_unknown_event_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/events/no-such-event/report", headers=ADMIN)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
