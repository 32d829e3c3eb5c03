"""An accepted command survives the web process being killed (SIGKILL) mid-storm.

Votes and moderator actions run on the hot path (server/questions/hot.py, held driver connections): a
200 is sent only after the vote's or the action's transaction committed. Here a vote storm (several in
flight) is cut by SIGKILL; a new process on the same database then knows every vote that was answered 200
(voting again is 409 `already_voted`, the counts hold them all) and every approval in the audit log.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.db.migrate import upgrade
from tests.conftest import PG_BASE
from tests.drill.procs import ready
from tests.server.test_scale_out import Node
from tests.support import ADMIN_TOKEN, create_pg_database, drop_pg_database

pytestmark = pytest.mark.slow

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
VOTERS = 40
QUESTIONS = 3
IN_FLIGHT = 12


def _env(database: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database,
        "SECRET_KEY": "drill-secret",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "MEDIA_DIR": str(tmp_path / "media"),
        "JOIN_RATE_PER_MINUTE": "100000",
        "ASK_RATE_PER_MINUTE": "100000",
    }


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_accepted_votes_and_approvals_survive_sigkill(engine: str, tmp_path: Path) -> None:
    if engine == "sqlite":
        database = f"sqlite+aiosqlite:///{tmp_path / 'kill.db'}"
    else:
        database = await create_pg_database(PG_BASE)
    upgrade(database)
    first = Node(_env(database, tmp_path), tmp_path / "first.log")
    second: Node | None = None
    try:
        await ready(first)
        async with httpx.AsyncClient(base_url=first.base_url, timeout=30) as c:
            assert (await c.post("/api/v1/events", json={"slug": "kill", "title_zh": "断电"}, headers=ADMIN)).is_success
            assert (await c.post("/api/v1/events/kill/state", json={"state": "live"}, headers=ADMIN)).is_success
            invite = (await c.post("/api/v1/events/kill/invites", json={"role": "moderator"}, headers=ADMIN)).json()
            mod = {"Authorization": f"Bearer {invite['token']}"}
            people = []
            for i in range(VOTERS + QUESTIONS):
                r = await c.post("/api/v1/events/kill/join", json={"name": f"观众{i}"})
                assert r.status_code == 201, r.text
                people.append({"Authorization": f"Bearer {r.json()['token']}"})
            askers, voters = people[:QUESTIONS], people[QUESTIONS:]
            qids = []
            for i, who in enumerate(askers):
                r = await c.post(
                    "/api/v1/events/kill/questions", json={"text": f"第{i}个问题：基坑支护怎么验收？"}, headers=who
                )
                assert r.status_code == 201, r.text
                qids.append(r.json()["id"])
            for qid in qids:
                r = await c.post(
                    f"/api/v1/events/kill/questions/{qid}/actions", json={"action": "approve"}, headers=mod
                )
                assert r.status_code == 200, r.text

        accepted: list[tuple[int, int]] = []  # (voter, question) answered 200
        pairs = [(v, q) for v in range(VOTERS) for q in qids]
        gate = asyncio.Semaphore(IN_FLIGHT)
        enough = asyncio.Event()

        async def vote(client: httpx.AsyncClient, v: int, qid: int) -> None:
            async with gate:
                if enough.is_set() and first.proc.poll() is not None:
                    return
                with contextlib.suppress(httpx.TransportError):
                    r = await client.put(f"/api/v1/events/kill/questions/{qid}/vote", headers=voters[v])
                    if r.status_code == 200:
                        accepted.append((v, qid))
                        if len(accepted) >= len(pairs) // 3:
                            enough.set()

        async with httpx.AsyncClient(
            base_url=first.base_url, timeout=10, limits=httpx.Limits(max_connections=IN_FLIGHT)
        ) as storm:
            tasks = [asyncio.create_task(vote(storm, v, q)) for v, q in pairs]
            await asyncio.wait_for(enough.wait(), 60)
            first.proc.kill()  # SIGKILL with votes in flight: no shutdown, no flush
            first.proc.wait(10)
            await asyncio.gather(*tasks)
        assert len(accepted) < len(pairs), "the storm finished before the kill: nothing was cut"

        second = Node(_env(database, tmp_path), tmp_path / "second.log")
        await ready(second)
        async with httpx.AsyncClient(base_url=second.base_url, timeout=30) as c:
            listed = (await c.get("/api/v1/events/kill/questions", headers=mod)).json()
            counts = {q["id"]: q["votes"] for q in listed["questions"]}
            for qid in qids:
                want = sum(1 for _, q in accepted if q == qid)
                assert counts[qid] >= want, f"question {qid}: {counts[qid]} votes stored, {want} accepted"
            for v, qid in accepted:
                r = await c.put(f"/api/v1/events/kill/questions/{qid}/vote", headers=voters[v])
                assert r.status_code == 409 and r.json()["error"]["code"] == "already_voted", r.text
            audit: list[dict[str, Any]] = (await c.get("/api/v1/events/kill/audit", headers=mod)).json()["entries"]
            assert sorted(e["question_id"] for e in audit if e["action"] == "approve") == sorted(qids)
    finally:
        first.proc.kill()  # a no-op once it was killed
        first.stop()  # waits (at once) and closes its log
        if second is not None:
            second.stop()
        if engine == "postgres":
            await drop_pg_database(PG_BASE, database)
