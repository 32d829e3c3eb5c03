"""The hot commands (server/questions/hot.py: approve, answered, votes on held driver connections) when
PostgreSQL goes away: 503 `unavailable` with Retry-After, never 500, and working again as soon as it is back
(a held connection the server dropped is never used again). PostgreSQL's restart is the drill's TCP proxy.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from server.db.migrate import upgrade
from tests.conftest import PG_BASE
from tests.drill.procs import ready
from tests.drill.test_engine_faults import CuttableProxy
from tests.server.test_questions import Party
from tests.server.test_scale_out import Node
from tests.support import ADMIN_TOKEN, create_pg_database, drop_pg_database, wait_for

pytestmark = pytest.mark.slow

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def test_hot_commands_answer_503_while_postgresql_is_cut_and_work_at_once_when_it_is_back(
    tmp_path: Path,
) -> None:
    database = await create_pg_database(PG_BASE)
    upgrade(database)
    parts = urlsplit(database)
    proxy = CuttableProxy(parts.port or 5432)
    await proxy.start()
    proxied = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    env = {
        "DATABASE_URL": proxied,
        "SECRET_KEY": "drill-secret",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "MEDIA_DIR": str(tmp_path / "media"),
        "JOIN_RATE_PER_MINUTE": "100000",
        "ASK_RATE_PER_MINUTE": "100000",
    }
    node = Node(env, tmp_path / "web.log")
    try:
        await ready(node)
        async with httpx.AsyncClient(base_url=node.base_url, timeout=20) as client:
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
    finally:
        await asyncio.to_thread(node.stop)  # the proxy lives on this loop: keep it running meanwhile
        await proxy.close()
        await drop_pg_database(PG_BASE, database)
