"""Quizzes: scores against the pass mark, the training record needing a passed quiz, the quiz taken after
the event, and the poll / quiz CSV exports; on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from tests.conftest import ADMIN
from tests.server.test_polls import Polls
from tests.server.test_questions import Party


@pytest.fixture
async def party(client: httpx.AsyncClient) -> Party:
    return await Party.create(client, kind="briefing")


def rows(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


async def test_quiz_scores_training_rule_after_event_quiz_and_exports(party: Party) -> None:
    polls, c = Polls(party), party.client
    rule = await c.patch(f"{party.base}/quiz", json={"pass_percent": 100, "required_for_training": True}, headers=ADMIN)
    assert rule.status_code == 200 and rule.json() == {"pass_percent": 100, "required_for_training": True}
    q1 = await polls.made(
        kind="single", prompt="预看房由谁组织？", options=["建设单位", "监理单位"], quiz=True, correct=[0]
    )
    q2 = await polls.made(
        kind="multiple", prompt="哪些是质量通病？", options=["渗漏", "开裂", "BIM"], quiz=True, correct=[0, 1]
    )
    survey_poll = await polls.made(kind="rating", prompt="讲得清楚吗？")
    for p in (q1, q2, survey_poll):
        await polls.state(p["id"], "open")
    good = await party.viewer("陈工", stakeholder="owner")
    poor = await party.viewer("刘工")
    anonymous = await party.viewer("", stakeholder=None)
    right = await polls.answer(good, q1["id"], 0)
    assert right.json() == {"poll_id": q1["id"], "answer": 0, "correct": True, "correct_options": [0]}
    assert (await polls.answer(good, q2["id"], [1, 0])).json()["correct"] is True
    wrong = await polls.answer(poor, q2["id"], [0])
    assert wrong.json()["correct"] is False and wrong.json()["correct_options"] == [0, 1]
    refused = await polls.answer(anonymous, q1["id"], 0)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "registration_required"
    assert (await polls.answer(anonymous, survey_poll["id"], 5)).status_code == 201  # plain polls welcome anyone

    mine = (await c.get(f"{party.base}/quiz", headers=good)).json()
    assert (mine["correct"], mine["total"], mine["percent"], mine["passed"]) == (2, 2, 100, True)
    theirs = (await c.get(f"{party.base}/quiz", headers=poor)).json()
    assert (theirs["correct"], theirs["answered"], theirs["percent"], theirs["passed"]) == (0, 1, 0, False)

    # No minimum watch time: the quiz alone decides the training record.
    training = (await c.get(f"{party.base}/training", headers=ADMIN)).json()
    by_name = {r["name"]: r for r in training["records"]}
    assert by_name["陈工"]["eligible"] and by_name["陈工"]["quiz_percent"] == 100
    assert not by_name["刘工"]["eligible"] and by_name["刘工"]["quiz_passed"] is False

    # After the event the quiz stays open to those who have not taken it (the archive page); polls do not.
    assert (await c.post(f"{party.base}/state", json={"state": "live"}, headers=ADMIN)).status_code == 200
    assert (await c.post(f"{party.base}/state", json={"state": "ended"}, headers=ADMIN)).status_code == 200
    await polls.state(q1["id"], "closed")
    late = await party.viewer("晚到的赵工")
    assert (await polls.answer(late, q1["id"], 0)).status_code == 201
    assert (await polls.answer(late, q2["id"], [0, 1])).status_code == 201
    assert (await polls.answer(late, survey_poll["id"], 3)).json()["error"]["code"] == "closed"
    assert (await polls.answer(poor, q1["id"], 1)).status_code == 201
    assert (await polls.answer(poor, q2["id"], [0, 1])).json()["error"]["code"] == "already_answered"

    own = (await c.get(f"{party.base}/certificate", headers=late)).json()
    assert own["quiz_percent"] == 100 and own["quiz_passed"] and own["certificate"] is not None
    assert (await c.get(f"{party.base}/certificate", headers=poor)).json()["certificate"] is None

    quiz_rows = rows((await c.get(f"{party.base}/quiz.csv", params={"lang": "en"}, headers=party.mod)).content)
    assert quiz_rows[0][3:] == ["预看房由谁组织？", "哪些是质量通病？", "Quiz score (%)", "Passed"]
    table = {r[0]: r for r in quiz_rows[1:]}
    assert table["陈工"][3:] == ["建设单位 ✓", "渗漏; 开裂 ✓", "100", "yes"]
    assert table["刘工"][3:] == ["监理单位", "渗漏", "0", "no"]
    poll_rows = rows((await c.get(f"{party.base}/polls.csv", params={"lang": "zh-CN"}, headers=party.mod)).content)
    assert ["建设单位 ✓", "2", "1", "1"] in poll_rows  # all, owner, construction
    assert ["5", "1", "1"] in poll_rows  # the rating poll: one five-star answer, from a participant with no group
    training_rows = rows((await c.get(f"{party.base}/training.csv", params={"lang": "en"}, headers=ADMIN)).content)
    assert "Quiz score (%)" in training_rows[0]


async def test_quiz_rule_bad_input_and_roles(party: Party) -> None:
    c = party.client
    viewer = await party.viewer()
    assert (await c.patch(f"{party.base}/quiz", json={"pass_percent": 0}, headers=ADMIN)).status_code == 422
    assert (await c.patch(f"{party.base}/quiz", json={"pass_percent": 101}, headers=ADMIN)).status_code == 422
    assert (await c.patch(f"{party.base}/quiz", json={"pass_percent": 80}, headers=party.mod)).status_code == 403
    assert (await c.get(f"{party.base}/quiz.csv", headers=viewer)).status_code == 403
    assert (await c.get(f"{party.base}/quiz/settings")).json() == {"pass_percent": 60, "required_for_training": False}
    empty = (await c.get(f"{party.base}/quiz", headers=viewer)).json()
    assert empty["total"] == 0 and not empty["passed"]
    # No minimum and no quiz requirement: no training records, as before.
    assert (await c.get(f"{party.base}/training", headers=ADMIN)).json()["records"] == []


async def test_the_report_shows_each_poll_by_group_and_the_satisfaction_figures(party: Party) -> None:
    polls, c = Polls(party), party.client
    choice = await polls.made(kind="single", prompt="哪种支护最常用？", options=["排桩", "土钉墙"])
    words = await polls.made(kind="open", prompt="一个词")
    for p in (choice, words):
        await polls.state(p["id"], "open")
    owner = await party.viewer("甲", stakeholder="owner")
    builder = await party.viewer("乙")
    await polls.answer(owner, choice["id"], 0)
    await polls.answer(builder, choice["id"], 1)
    await polls.answer(owner, words["id"], "沉降监测")
    await c.post(f"{party.base}/state", json={"state": "live"}, headers=ADMIN)
    await c.post(f"{party.base}/survey", json={"overall": 4, "usefulness": 5, "comment": "<b>好</b>"}, headers=owner)

    body = (await c.get(f"{party.base}/report", headers=party.mod)).json()
    by_id = {p["id"]: p for p in body["polls"]}
    assert by_id[choice["id"]]["results"]["by_group"] == {"construction": [0, 1], "owner": [1, 0]}
    assert body["satisfaction"]["overall"]["distribution"] == [0, 0, 0, 1, 0]

    page = await c.get(f"/e/{party.slug}/report", params={"lang": "en"}, headers=party.mod)
    assert page.status_code == 200
    html = page.text
    assert 'id="polls"' in html and 'id="poll-' in html and "<svg" in html
    assert "Owner / developer" in html and "沉降监测" in html  # the chart's groups and the words table
    assert 'id="satisfaction"' in html and "100.0% satisfied" in html
    assert "&lt;b&gt;好&lt;/b&gt;" in html and "<b>好</b>" not in html  # comments are text, never markup
