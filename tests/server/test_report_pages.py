"""The report page and certificate pages over HTTP: access, both languages, escaping, print-ready."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest import ADMIN
from tests.server.scripted_event import Scripted, play
from tests.support import ADMIN_TOKEN, LiveServer


@pytest.fixture(scope="module")
async def scripted(server: LiveServer) -> Scripted:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as client:
        return await play(server, client, training_min_minutes=30)


async def test_report_page_for_the_admin_in_both_languages(client: httpx.AsyncClient, scripted: Scripted) -> None:
    zh = await client.get(f"/e/{scripted.slug}/report", headers=ADMIN)
    assert zh.status_code == 200 and '<html lang="zh-CN">' in zh.text
    for text in ("活动报告", "参会情况", "点赞最多的十个问题", "施工单位", "基坑", "本活动暂无录像"):
        assert text in zh.text, text
    assert zh.text.count("<svg") == 5 and "<script>" not in zh.text.split("</head>", 1)[1].split("<script type")[0]
    assert "&lt;i&gt;10 mm&lt;/i&gt;" in zh.text and "<i>10 mm" not in zh.text  # user text is never markup
    assert f"/e/{scripted.slug}/archive?q={scripted.questions['q3']}" in zh.text
    en = await client.get(f"/e/{scripted.slug}/report?lang=en", headers=ADMIN)
    for text in ("Event report", "Attendance", "The ten most-voted questions", "Contractor", "Watch the answer"):
        assert text in en.text, text
    assert 'id="training-form"' in en.text  # the organiser sets the minimum here


async def test_report_page_access(client: httpx.AsyncClient, scripted: Scripted) -> None:
    url = f"/e/{scripted.slug}/report"
    assert (await client.get(url)).status_code == 403
    assert (await client.get(url, headers=scripted.people["wang"])).status_code == 403
    assert (await client.get(url, headers=scripted.party.expert)).status_code == 403
    moderator = await client.get(url, headers=scripted.party.mod)
    assert moderator.status_code == 200 and 'id="training-form"' not in moderator.text
    assert (await client.get("/e/no-such-event/report", headers=ADMIN)).status_code == 404


async def test_training_records_and_certificates(client: httpx.AsyncClient, scripted: Scripted) -> None:
    body = (await client.get(f"/api/v1/events/{scripted.slug}/training", headers=ADMIN)).json()
    assert (body["min_minutes"], body["counts_replay"], body["certificates_issued"]) == (30, True, True)
    records = {r["name"]: r for r in body["records"]}
    assert [(r["name"], r["minutes"], r["eligible"]) for r in body["records"]] == [
        ("李工", 63, True),
        ("王工", 33, True),
        ("张工", 30, True),
        ("赵工", 0, False),
        ("钱工", 0, False),
    ]
    assert records["李工"]["questions"] == 2 and records["李工"]["live_minutes"] == 53.3
    assert records["赵工"]["certificate"] is None
    code = records["王工"]["certificate"]["code"]
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}", code)
    again = (await client.get(f"/api/v1/events/{scripted.slug}/training", headers=ADMIN)).json()
    assert {r["name"]: r["certificate"] for r in again["records"]}["王工"]["code"] == code  # issued once

    public = await client.get(f"/api/v1/certificates/{code}")  # anyone, no token
    assert public.status_code == 200
    assert public.json()["holder"] == {"name": "王工", "organisation": "某施工单位", "stakeholder": "construction"}
    assert (public.json()["minutes"], public.json()["required_minutes"]) == (33, 30)
    assert (await client.get(f"/api/v1/certificates/{code.lower().replace('-', '')}")).status_code == 200
    missing = await client.get("/api/v1/certificates/0000-0000-0000-0000")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"

    page = await client.get(f"/certificates/{code}")
    assert page.status_code == 200
    for text in ("培训证明", "Certificate of training", "王工", "某施工单位", "施工单位", "Contractor", code, "33"):
        assert text in page.text, text
    loose = await client.get(f"/certificates/{code.lower()}", follow_redirects=False)
    assert loose.status_code == 308 and loose.headers["location"] == f"/certificates/{code}"
    wrong = await client.get("/certificates/ZZZZ-ZZZZ-ZZZZ-ZZZZ?lang=en")
    assert wrong.status_code == 404 and "No certificate has this code" in wrong.text
    lookup = await client.get(f"/certificates?code={code.replace('-', ' ')}", follow_redirects=False)
    assert lookup.status_code == 303 and lookup.headers["location"] == f"/certificates/{code}"
    assert (await client.get("/certificates?code=nonsense")).status_code == 404
    assert "证书验证" in (await client.get("/certificates?lang=zh-CN")).text


async def test_training_csv(client: httpx.AsyncClient, scripted: Scripted) -> None:
    response = await client.get(f"/api/v1/events/{scripted.slug}/training.csv", headers=ADMIN)
    assert response.status_code == 200 and response.content.startswith(b"\xef\xbb\xbf")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("姓名,单位,参建方类别,计入学时（分钟）")
    assert len(lines) == 4 and lines[1].startswith("李工,某设计院,设计单位,63,53.3,10,2,")


async def test_a_participant_sees_their_own_record(client: httpx.AsyncClient, scripted: Scripted) -> None:
    mine = await client.get(f"/api/v1/events/{scripted.slug}/certificate", headers=scripted.people["wang"])
    assert mine.status_code == 200
    body = mine.json()
    assert (body["minutes"], body["eligible"], body["required_minutes"]) == (33, True, 30)
    page = await client.get(f"/e/{scripted.slug}/certificate", headers=scripted.people["wang"], follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == f"/certificates/{body['certificate']['code']}"
    short = await client.get(f"/e/{scripted.slug}/certificate", headers=scripted.people["zhao"])
    assert short.status_code == 200 and "已观看 0 分钟，要求不少于 30 分钟" in short.text
    anonymous = await client.get(f"/e/{scripted.slug}/certificate", headers=scripted.people["anon"])
    assert "匿名参加者无法获得培训证明" in anonymous.text
    stranger = await client.get(f"/e/{scripted.slug}/certificate")
    assert stranger.status_code == 200 and "请先登记参加本活动" in stranger.text
    assert (await client.get(f"/api/v1/events/{scripted.slug}/certificate")).status_code == 401


async def test_the_admin_sets_the_training_minimum(client: httpx.AsyncClient, event: dict[str, object]) -> None:
    url = f"/api/v1/events/{event['slug']}"
    assert (await client.patch(url, json={"training_min_minutes": 0}, headers=ADMIN)).status_code == 422
    set_ = await client.patch(url, json={"training_min_minutes": 45, "training_counts_replay": False}, headers=ADMIN)
    assert set_.status_code == 200
    assert (set_.json()["training_min_minutes"], set_.json()["training_counts_replay"]) == (45, False)
    cleared = await client.patch(url, json={"training_min_minutes": None}, headers=ADMIN)
    assert cleared.json()["training_min_minutes"] is None
    csv = await client.get(f"{url}/training.csv", headers=ADMIN)
    assert csv.status_code == 409 and csv.json()["error"]["code"] == "no_training"


async def test_admin_cookie_reaches_the_report(server: LiveServer, scripted: Scripted) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as browser:
        entered = await browser.get(f"/e/{scripted.slug}/enter?token={ADMIN_TOKEN}")
        assert entered.status_code == 303
        assert (await browser.get(f"/e/{scripted.slug}/report")).status_code == 200
