"""The hot commands (server/questions/hot.py: approve, answered, votes on held driver connections) when
PostgreSQL goes away: 503 `unavailable` with Retry-After, never 500, and working again as soon as it is back
(a held connection the server dropped is never used again). PostgreSQL's restart is the drill's TCP proxy.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.drill.procs import web_process_behind_cuttable_postgresql
from tests.server.test_questions import Party
from tests.support import ADMIN_TOKEN, wait_for

pytestmark = pytest.mark.slow

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def test_hot_commands_answer_503_while_postgresql_is_cut_and_work_at_once_when_it_is_back(
    tmp_path: Path,
) -> None:
    async with (
        web_process_behind_cuttable_postgresql(tmp_path) as (node, proxy, _database),
        httpx.AsyncClient(base_url=node.base_url, timeout=20) as client,
    ):
        party = await Party.create(client)
        assert (await client.post(f"{party.base}/state", json={"state": "live"}, headers=ADMIN)).is_success
        askers = [await party.viewer(f"提问{i}") for i in range(3)]
        voters = [await party.viewer(f"投票{i}") for i in range(3)]
        qids = []
        for i, who in enumerate(askers):
            asked = await party.ask(who, f"第{i}个问题：深基坑监测报警值怎么定？")
            assert asked.status_code == 201, asked.text
            qids.append(asked.json()["id"])
        assert (await party.act(party.mod, qids[0], "approve")).status_code == 200
        vote = f"{party.base}/questions/{qids[0]}/vote"
        assert (await client.put(vote, headers=voters[0])).status_code == 200  # connections now held

        proxy.cut()
        approve = await party.act(party.mod, qids[1], "approve")
        voted = await client.put(vote, headers=voters[1])
        answered = await party.act(party.expert, qids[0], "answered", answer_text="按规范执行")
        for response in (approve, voted, answered):
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "unavailable"
            assert response.headers["Retry-After"]
        await asyncio.sleep(1.0)  # still away: the next command also finds it gone
        assert (await client.put(vote, headers=voters[1])).status_code == 503

        proxy.restore()
        # Back: the very next commands work (no dead held connection is tried first).
        assert (await party.act(party.mod, qids[1], "approve")).status_code == 200
        voted = await client.put(vote, headers=voters[1])
        assert voted.status_code == 200 and voted.json()["votes"] == 2, voted.text
        assert (await party.act(party.expert, qids[0], "answered", answer_text="按规范执行")).status_code == 200

        async def stored() -> bool:
            listed = await party.listing(party.mod)
            status = {q["id"]: q["status"] for q in listed["questions"]}
            return status[qids[0]] == "answered" and status[qids[1]] == "approved"

        await wait_for(stored, 10, message="the commands after the cut are stored")
        audit = (await client.get(f"{party.base}/audit", headers=party.mod)).json()["entries"]
        # The refused commands left nothing behind: one approval of each, one answer.
        assert [(e["action"], e["question_id"]) for e in audit if e["action"] in ("approve", "answered")] == [
            ("approve", qids[0]),
            ("approve", qids[1]),
            ("answered", qids[0]),
        ]
