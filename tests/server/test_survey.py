"""The satisfaction survey: one answer per participant, anonymous where allowed, results and CSV."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from tests.conftest import ADMIN
from tests.server.test_questions import Party


@pytest.fixture
async def party(client: httpx.AsyncClient) -> Party:
    return await Party.create(client, kind="briefing", allow_anonymous=True)


async def test_survey_once_per_participant_anonymous_results_and_csv(party: Party) -> None:
    c, url = party.client, f"{party.base}/survey"
    invited = await c.post(f"{party.base}/invites", json={"role": "expert", "name": "孙专家"}, headers=ADMIN)
    expert = invited.json()["participant_id"]
    named = await party.viewer("黄工", stakeholder="owner")
    shy = await party.viewer("周工", stakeholder="construction")
    closed = await c.post(url, json={"overall": 5, "usefulness": 5}, headers=named)
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "not_open"
    assert (await c.post(f"{party.base}/state", json={"state": "live"}, headers=ADMIN)).status_code == 200
    status = (await c.get(url, headers=named)).json()
    assert status["open"] and not status["answered"] and status["allow_anonymous"]
    assert status["experts"] == [{"id": expert, "name": "孙专家"}]  # unnamed experts are not rated
    body = {"overall": 5, "usefulness": 4, "experts": {str(expert): 5}, "comment": "  讲得很实用 "}
    ok = await c.post(url, json=body, headers=named)
    assert ok.status_code == 201, ok.text
    twice = await c.post(url, json={"overall": 1, "usefulness": 1}, headers=named)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_answered"
    assert (await c.get(url, headers=named)).json()["answered"]
    hidden = await c.post(
        url, json={"overall": 3, "usefulness": 2, "anonymous": True, "comment": "声音小"}, headers=shy
    )
    assert hidden.status_code == 201

    results = (await c.get(f"{url}/results", headers=party.mod)).json()
    assert results["responses"] == 2 and results["overall"]["distribution"] == [0, 0, 1, 0, 1]
    assert results["overall"]["mean"] == 4 and results["overall"]["satisfied"] == 0.5
    assert results["by_group"]["owner"]["mean"] == 5 and results["comments"] == ["讲得很实用", "声音小"]
    assert results["experts"] == [
        {"id": expert, "name": "孙专家", "responses": 1, "distribution": [0, 0, 0, 0, 1], "mean": 5, "satisfied": 1.0}
    ]
    body = (await c.get(f"{party.base}/survey.csv", params={"lang": "en"}, headers=party.mod)).content
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert table[0][5] == "Expert: 孙专家"
    assert table[1] == ["黄工", "某施工单位", "Owner / developer", "5", "4", "5", "讲得很实用"]
    assert table[2][0] == "anonymous" and table[2][1] == "" and table[2][-1] == "声音小"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"overall": 6, "usefulness": 3}, 422, "invalid"),
        ({"overall": "5", "usefulness": 3}, 422, "invalid"),
        ({"overall": 5}, 422, "invalid"),
        ({"overall": 5, "usefulness": 3, "experts": {"999999": 5}}, 422, "invalid"),
        ({"overall": 5, "usefulness": 3, "experts": {"abc": 5}}, 422, "invalid"),
        ({"overall": 5, "usefulness": 3, "comment": "长" * 2001}, 422, "too_long"),
        ({"overall": 5, "usefulness": 3, "comment": "长" * 4001}, 422, "invalid"),
    ],
)
async def test_bad_survey_answers(party: Party, body: dict[str, object], status: int, code: str) -> None:
    await party.client.post(f"{party.base}/state", json={"state": "live"}, headers=ADMIN)
    viewer = await party.viewer()
    r = await party.client.post(f"{party.base}/survey", json=body, headers=viewer)
    assert r.status_code == status and r.json()["error"]["code"] == code, r.text


async def test_anonymous_answers_need_the_event_to_allow_them(client: httpx.AsyncClient) -> None:
    party = await Party.create(client, allow_anonymous=False)
    await client.post(f"{party.base}/state", json={"state": "live"}, headers=ADMIN)
    viewer = await party.viewer()
    r = await client.post(
        f"{party.base}/survey", json={"overall": 4, "usefulness": 4, "anonymous": True}, headers=viewer
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "anonymous_not_allowed"
    assert (
        await client.post(f"{party.base}/survey", json={"overall": 4, "usefulness": 4}, headers=party.mod)
    ).status_code == 403
    assert (await client.get(f"{party.base}/survey/results", headers=viewer)).status_code == 403
