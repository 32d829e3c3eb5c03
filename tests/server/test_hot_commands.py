"""The hot commands (server/questions/hot.py) beside everything else touching the same question: what
each one changed is kept, nothing another wrote is written back; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import httpx

from tests.server.test_questions import Party


async def test_moderator_actions_during_a_vote_storm_never_write_back_an_old_count(
    client: httpx.AsyncClient,
) -> None:
    party = await Party.create(client)
    asker = await party.viewer("提问人")
    asked = await party.ask(asker, "塔吊基础验收要看哪些资料？")
    qid = asked.json()["id"]
    assert (await party.act(party.mod, qid, "approve")).status_code == 200
    voters = [await party.viewer(f"观众{i}") for i in range(24)]

    async def vote(who: dict[str, str]) -> int:
        return (await client.put(f"{party.base}/questions/{qid}/vote", headers=who)).status_code

    async def moderate() -> list[int]:
        statuses = []
        for i in range(6):  # each reads the question (its count at that moment) and writes its own change
            reorder = await party.act(party.mod, qid, "reorder", position=float(i))
            edit = await party.act(party.mod, qid, "edit", text=f"塔吊基础验收要看哪些资料？（第{i}次修改）")
            statuses += [reorder.status_code, edit.status_code]
        return statuses

    votes, actions = await asyncio.gather(asyncio.gather(*(vote(v) for v in voters)), moderate())
    assert set(votes) == {200} and set(actions) == {200}
    listed = await party.listing(party.mod)
    (question,) = [q for q in listed["questions"] if q["id"] == qid]
    assert question["votes"] == len(voters)
    assert question["text"].endswith("（第5次修改）") and question["position"] == 5.0
    assert question["original_text"] == "塔吊基础验收要看哪些资料？"


async def test_a_refused_action_leaves_no_trace_and_the_next_one_works(client: httpx.AsyncClient) -> None:
    party = await Party.create(client)
    asker = await party.viewer("提问人")
    qid = (await party.ask(asker, "脚手架连墙件间距怎么定？")).json()["id"]
    assert (await party.act(party.mod, qid, "approve")).status_code == 200
    again = await party.act(party.mod, qid, "approve")  # already approved: the domain refuses
    assert again.status_code == 409, again.text
    viewer_tries = await party.act(asker, qid, "reject")  # a viewer is not staff
    assert viewer_tries.status_code == 403, viewer_tries.text
    assert (await party.act(party.mod, qid, "reject", reason="off_topic")).status_code == 200
    audit = (await client.get(f"{party.base}/audit", headers=party.mod)).json()["entries"]
    mine = [e for e in audit if e["question_id"] == qid]
    assert [e["action"] for e in mine] == ["approve", "reject"]
    assert mine[1]["reason"] == "off_topic" and mine[1]["after"]["status"] == "rejected"
