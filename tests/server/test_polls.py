"""Live polls over HTTP and the WebSocket: prepare, launch, answer once, live results, close; SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.server.test_questions import Party
from tests.support import LiveServer, WsClient


class Polls:
    def __init__(self, party: Party) -> None:
        self.party = party
        self.base = f"{party.base}/polls"

    async def create(self, who: dict[str, str] | None = None, **body: Any) -> httpx.Response:
        return await self.party.client.post(self.base, json=body, headers=who or self.party.mod)

    async def made(self, **body: Any) -> dict[str, Any]:
        r = await self.create(**body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def state(self, poll_id: int, state: str, who: dict[str, str] | None = None) -> httpx.Response:
        return await self.party.client.post(
            f"{self.base}/{poll_id}/state", json={"state": state}, headers=who or self.party.mod
        )

    async def answer(self, who: dict[str, str], poll_id: int, answer: Any) -> httpx.Response:
        return await self.party.client.post(f"{self.base}/{poll_id}/answer", json={"answer": answer}, headers=who)


@pytest.fixture
async def party(client: httpx.AsyncClient) -> Party:
    return await Party.create(client)


def ws(server: LiveServer, party: Party, who: dict[str, str] | None = None) -> WsClient:
    headers = {"Authorization": who["Authorization"]} if who else {}
    return WsClient(f"{server.ws_url}/api/v1/events/{party.slug}/ws", headers)


async def test_a_launched_poll_reaches_viewers_and_its_results_update_live(server: LiveServer, party: Party) -> None:
    polls = Polls(party)
    alice, bob = await party.viewer("王工"), await party.viewer("李工", stakeholder="owner")
    watcher = await ws(server, party, alice).connect()
    staff = await ws(server, party, party.mod).connect()
    snap = await watcher.wait(lambda f: f["type"] == "snapshot")
    assert snap["data"]["polls"] == [] and snap["data"]["poll_answers"] == []

    poll = await polls.made(kind="single", prompt="基坑支护首选哪种？", options=["排桩", "地下连续墙", "土钉墙"])
    assert poll["state"] == "draft" and poll["correct"] == []
    await staff.wait(lambda f: f["type"] == "poll.saved" and f["data"]["id"] == poll["id"])
    listed = (await party.client.get(polls.base, headers=alice)).json()
    assert listed["polls"] == []  # a draft is staff's business

    assert (await polls.state(poll["id"], "open")).status_code == 200
    opened = await watcher.wait(lambda f: f["type"] == "poll.opened")
    assert opened["data"]["options"] == ["排桩", "地下连续墙", "土钉墙"] and "correct" not in opened["data"]

    first = await polls.answer(alice, poll["id"], 1)
    assert first.status_code == 201 and first.json() == {"poll_id": poll["id"], "answer": 1}
    again = await polls.answer(alice, poll["id"], 0)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_answered"
    assert (await polls.answer(bob, poll["id"], 1)).status_code == 201
    live = await watcher.wait(lambda f: f["type"] == "poll.results" and f["data"]["responses"] == 2)
    assert live["data"]["counts"] == [0, 2, 0]
    assert live["data"]["by_group"] == {"construction": [0, 1, 0], "owner": [0, 1, 0]}
    notice = await watcher.wait(lambda f: f["type"] == "notice" and f["data"]["type"] == "poll.answered")
    assert notice["data"]["answer"] == 1

    closed = await polls.state(poll["id"], "closed")
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    final = await watcher.wait(lambda f: f["type"] == "poll.closed")
    assert final["data"]["results"]["counts"] == [0, 2, 0]
    late = await polls.answer(await party.viewer("晚到"), poll["id"], 0)
    assert late.status_code == 409 and late.json()["error"]["code"] == "closed"
    again_open = await polls.state(poll["id"], "open")
    assert again_open.status_code == 409 and "actual 'closed'" in again_open.json()["error"]["message"]

    # A fresh page gets the polls, their results and its own answers in the snapshot.
    back = await ws(server, party, alice).connect()
    snap = await back.wait(lambda f: f["type"] == "snapshot")
    assert [p["id"] for p in snap["data"]["polls"]] == [poll["id"]]
    assert snap["data"]["polls"][0]["results"]["responses"] == 2
    assert snap["data"]["poll_answers"] == [{"poll_id": poll["id"], "answer": 1}]
    for c in (watcher, staff, back):
        await c.close()


async def test_staff_only_results_never_reach_viewers(server: LiveServer, party: Party) -> None:
    polls = Polls(party)
    viewer = await party.viewer()
    watcher = await ws(server, party, viewer).connect()
    staff = await ws(server, party, party.expert).connect()
    poll = await polls.made(kind="rating", prompt="本次讲解清楚吗？", results_to="staff")
    await polls.state(poll["id"], "open", party.expert)
    await watcher.wait(lambda f: f["type"] == "poll.opened")
    assert (await polls.answer(viewer, poll["id"], 4)).status_code == 201
    seen = await staff.wait(lambda f: f["type"] == "poll.results" and f["data"]["responses"] == 1)
    assert seen["data"]["counts"] == [0, 0, 0, 1, 0] and seen["data"]["mean"] == 4
    await polls.state(poll["id"], "closed")
    closed = await watcher.wait(lambda f: f["type"] == "poll.closed")
    assert "results" not in closed["data"] and not watcher.of_type("poll.results")
    hidden = await party.client.get(f"{polls.base}/{poll['id']}/results", headers=viewer)
    assert hidden.status_code == 403
    assert "results" not in (await party.client.get(polls.base, headers=viewer)).json()["polls"][0]
    await watcher.close()
    await staff.close()


async def test_every_kind_and_the_chinese_word_cloud(party: Party) -> None:
    polls = Polls(party)
    viewers = [await party.viewer(f"观众{i}") for i in range(3)]
    multiple = await polls.made(kind="multiple", prompt="常见质量通病？", options=["渗漏", "开裂", "空鼓"])
    ranking = await polls.made(kind="ranking", prompt="优先级排序", options=["监测", "降水", "支护"])
    words = await polls.made(kind="open", prompt="一个词形容今天的培训")
    for p in (multiple, ranking, words):
        assert (await polls.state(p["id"], "open")).status_code == 200
    texts = ["沉降监测很重要", "基坑沉降监测", "预看房 BIM"]
    for v, text in zip(viewers, texts, strict=True):
        assert (await polls.answer(v, multiple["id"], [2, 0])).status_code == 201
        assert (await polls.answer(v, ranking["id"], [2, 0, 1])).status_code == 201
        assert (await polls.answer(v, words["id"], text)).status_code == 201
    r = (await party.client.get(f"{polls.base}/{multiple['id']}/results", headers=viewers[0])).json()
    assert r["counts"] == [3, 0, 3]
    r = (await party.client.get(f"{polls.base}/{ranking['id']}/results")).json()
    assert r["counts"] == [3, 0, 6] and r["mean_rank"] == [2.0, 3.0, 1.0]
    cloud = (await party.client.get(f"{polls.base}/{words['id']}/results")).json()["words"]
    top = {w["text"]: w["count"] for w in cloud}
    # The glossary keeps 沉降监测 and 预看房 whole; particles (很) and single letters are dropped.
    assert top["沉降监测"] == 2 and top["预看房"] == 1 and top["bim"] == 1 and "很" not in top


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"kind": "poll", "prompt": "q"}, 422, "invalid"),
        ({"kind": "single", "prompt": "q", "options": ["a"]}, 422, "invalid"),
        ({"kind": "single", "prompt": "长" * 1001, "options": ["a", "b"]}, 422, "invalid"),
        ({"kind": "single", "prompt": "q", "options": ["a", "b"], "quiz": True, "correct": [5]}, 422, "invalid"),
        ({"kind": "rating", "prompt": "q", "time_limit_s": 1}, 422, "invalid"),
        ({"kind": "rating", "prompt": "q", "extra": 1}, 422, "invalid"),
    ],
)
async def test_bad_polls_are_refused(party: Party, body: dict[str, Any], status: int, code: str) -> None:
    r = await Polls(party).create(**body)
    assert r.status_code == status and r.json()["error"]["code"] == code, r.text


async def test_bad_answers_and_roles(party: Party) -> None:
    polls = Polls(party)
    viewer = await party.viewer()
    assert (await polls.create(viewer, kind="rating", prompt="q")).status_code == 403
    rating = await polls.made(kind="rating", prompt="打分")
    words = await polls.made(kind="open", prompt="一句话")
    assert (await polls.answer(viewer, rating["id"], 3)).json()["error"]["code"] == "not_open"
    for p in (rating, words):
        await polls.state(p["id"], "open")
    for bad in (0, 6, "5", [5], True, None):
        r = await polls.answer(viewer, rating["id"], bad)
        assert r.status_code == 422, (bad, r.text)
    assert (await polls.answer(viewer, words["id"], "长" * 201)).json()["error"]["code"] == "too_long"
    assert (await polls.answer(viewer, words["id"], "长" * 3000)).status_code == 422
    assert (await polls.answer(viewer, words["id"], "长" * 70_000)).status_code == 413
    assert (await polls.answer(party.mod, rating["id"], 3)).status_code == 403
    assert (await polls.answer(viewer, 999_999, 3)).status_code == 404
    assert (await party.client.post(f"{polls.base}/abc/answer", json={"answer": 1}, headers=viewer)).status_code == 404
    assert (await polls.state(rating["id"], "paused")).status_code == 422
    # Drafts can be changed and deleted; launched polls cannot.
    changed = await party.client.patch(
        f"{polls.base}/{rating['id']}", json={"kind": "rating", "prompt": "x"}, headers=party.mod
    )
    assert changed.status_code == 409 and changed.json()["error"]["code"] == "not_draft"
    draft = await polls.made(kind="single", prompt="草稿", options=["a", "b"])
    changed = await party.client.patch(
        f"{polls.base}/{draft['id']}",
        json={"kind": "single", "prompt": "定稿", "options": ["a", "b", "c"]},
        headers=party.mod,
    )
    assert changed.status_code == 200 and changed.json()["options"] == ["a", "b", "c"]
    assert (await party.client.delete(f"{polls.base}/{draft['id']}", headers=party.mod)).status_code == 204
    assert (await party.client.delete(f"{polls.base}/{rating['id']}", headers=party.mod)).status_code == 409


async def test_a_timed_poll_closes_itself_at_its_deadline(server: LiveServer, party: Party) -> None:
    polls = Polls(party)
    viewer = await party.viewer()
    watcher = await ws(server, party, viewer).connect()
    poll = await polls.made(kind="single", prompt="限时 5 秒", options=["是", "否"], time_limit_s=5)
    opened = (await polls.state(poll["id"], "open")).json()
    assert opened["deadline"] == pytest.approx(opened["opened_at"] + 5)
    assert (await polls.answer(viewer, poll["id"], 0)).status_code == 201
    closed = await watcher.wait(lambda f: f["type"] == "poll.closed", timeout=15)
    assert (
        closed["data"]["closed_at"] == pytest.approx(opened["deadline"]) and closed["data"]["results"]["responses"] == 1
    )
    late = await polls.answer(await party.viewer("迟到"), poll["id"], 1)
    assert late.status_code == 409 and late.json()["error"]["code"] == "closed"
    await watcher.close()
