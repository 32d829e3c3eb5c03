"""A viewer rewords or withdraws their own question while it is pending; nobody else may, and not later."""

from __future__ import annotations

import httpx
import pytest

from tests.server.test_questions import Party
from tests.support import LiveServer, WsClient


@pytest.fixture
async def party(client: httpx.AsyncClient) -> Party:
    party = await Party.create(client)
    words = await client.patch(f"{party.base}/moderation", json={"banned_words": ["代办"]}, headers=party.mod)
    assert words.status_code == 200, words.text
    return party


async def test_reword_then_withdraw_a_pending_question(server: LiveServer, party: Party) -> None:
    viewer, other = await party.viewer(), await party.viewer("李工")
    staff = await WsClient(
        f"{server.ws_url}/api/v1/events/{party.slug}/ws", {"Authorization": party.mod["Authorization"]}
    ).connect()
    mine = await WsClient(
        f"{server.ws_url}/api/v1/events/{party.slug}/ws", {"Authorization": viewer["Authorization"]}
    ).connect()
    await staff.wait(lambda f: f["type"] == "snapshot")
    await mine.wait(lambda f: f["type"] == "snapshot")
    qid = (await party.ask(viewer, "基坑降水影响范围？")).json()["id"]
    url = f"{party.base}/questions/{qid}"

    changed = await party.client.patch(url, json={"text": "基坑降水的影响范围一般怎么估算？"}, headers=viewer)
    assert changed.status_code == 200 and changed.json()["text"] == "基坑降水的影响范围一般怎么估算？"
    update = await staff.wait(lambda f: f["type"] == "question.updated" and f["data"]["id"] == qid)
    assert update["data"]["text"] == "基坑降水的影响范围一般怎么估算？" and update["data"]["by_asker"] is True
    await mine.wait(lambda f: f["type"] == "notice" and f["data"]["type"] == "question.updated")
    held = await party.client.patch(url, json={"text": "请联系代办公司处理资质"}, headers=viewer)
    assert held.status_code == 200 and held.json()["held_reason"] == "banned_word"  # judged like a new question
    short = await party.client.patch(url, json={"text": "?"}, headers=viewer)
    assert short.status_code == 422 and short.json()["error"]["code"] == "too_short"
    assert (await party.client.patch(url, json={"text": "别人改"}, headers=other)).status_code == 403
    assert (await party.client.delete(url, headers=other)).status_code == 403
    assert (await party.client.patch(url, json={"text": "长" * 2001}, headers=viewer)).status_code == 422

    assert (await party.client.delete(url, headers=viewer)).status_code == 204
    gone = await staff.wait(lambda f: f["type"] == "question.withdrawn")
    assert gone["data"]["id"] == qid
    await mine.wait(lambda f: f["type"] == "notice" and f["data"]["type"] == "question.withdrawn")
    assert (await party.listing(viewer))["mine"] == []
    assert qid not in [q["id"] for q in (await party.listing(party.mod))["questions"]]
    assert (await party.client.delete(url, headers=viewer)).status_code == 404
    audit = (await party.client.get(f"{party.base}/audit", headers=party.mod)).json()["entries"]
    assert [e["action"] for e in audit if e["question_id"] == qid] == ["asker_edit", "asker_edit", "withdraw"]
    await staff.close()
    await mine.close()


async def test_an_approved_question_is_the_moderators_to_change(party: Party) -> None:
    viewer = await party.viewer()
    qid = (await party.ask(viewer, "盾构始发前需要哪些验收？")).json()["id"]
    await party.act(party.mod, qid, "approve")
    url = f"{party.base}/questions/{qid}"
    late = await party.client.patch(url, json={"text": "改一下"}, headers=viewer)
    assert late.status_code == 409 and late.json()["error"]["code"] == "illegal_transition"
    assert (await party.client.delete(url, headers=viewer)).status_code == 409
    assert (await party.client.delete(f"{party.base}/questions/abc", headers=viewer)).status_code == 404
