"""Two server processes sharing Redis and PostgreSQL serve one event as one."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from server.db.migrate import upgrade
from tests.conftest import PG_BASE
from tests.server.test_questions import Party
from tests.support import ADMIN_TOKEN, WsClient, create_pg_database, drop_pg_database, free_port, wait_for

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


class Node:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "web"],  # the Procfile's web process
            cwd=ROOT,
            env={
                **os.environ,
                "HOST": "127.0.0.1",
                "PORT": str(self.port),
                "LOG_LEVEL": "warning",
                "LIVE_CAPTIONS": "false",
                **env,
            },
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    async def ready(self) -> None:
        async def up() -> bool:
            assert self.proc.poll() is None, "server process exited"
            try:
                async with httpx.AsyncClient() as c:
                    return (await c.get(f"{self.base_url}/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        await wait_for(up, 90, interval=0.1, message=f"node on {self.port}")  # a cold start on a busy machine

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)
        self._log.close()


@asynccontextmanager
async def two_nodes(redis_url: str, tmp_path: Path, **env: str) -> AsyncIterator[tuple[Node, Node, str]]:
    """Two server processes on a fresh PostgreSQL database and a private Redis prefix; (a, b, database URL)."""
    db = await create_pg_database(PG_BASE)
    upgrade(db)
    shared = {
        "DATABASE_URL": db,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": f"t{uuid.uuid4().hex[:8]}",
        "SECRET_KEY": "shared-secret",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "MEDIA_DIR": str(tmp_path / "media"),
        **env,
    }
    a, b = Node(shared, tmp_path / "a.log"), Node(shared, tmp_path / "b.log")
    try:
        await a.ready()
        await b.ready()
        yield a, b, db
    finally:
        a.stop()
        b.stop()
        await drop_pg_database(PG_BASE, db)


@pytest.fixture
async def nodes(redis_url: str, tmp_path: Path) -> AsyncIterator[tuple[Node, Node]]:
    async with two_nodes(redis_url, tmp_path) as (a, b, _db):
        yield a, b


async def test_question_on_one_node_reaches_viewers_on_the_other_and_resume_crosses_nodes(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    async with httpx.AsyncClient(base_url=a.base_url) as on_a:
        party = await Party.create(on_a)
        askers = [await party.viewer(f"观众{i}") for i in range(4)]
        viewer_b = await WsClient(f"{b.ws_url}/api/v1/events/{party.slug}/ws").connect()
        moderator_b = await WsClient(
            f"{b.ws_url}/api/v1/events/{party.slug}/ws", {"Authorization": party.mod["Authorization"]}
        ).connect()
        await viewer_b.wait(lambda f: f["type"] == "snapshot")
        await moderator_b.wait(lambda f: f["type"] == "snapshot")

        first = (await party.ask(askers[0], "跨节点：基坑监测数据如何共享？")).json()["id"]
        await moderator_b.wait(lambda f: f["type"] == "question.submitted" and f["data"]["id"] == first)
        await party.act(party.mod, first, "approve")
        await viewer_b.wait(lambda f: f["type"] == "question.approved" and f["data"]["id"] == first)

        last_seen = viewer_b.last_id
        await viewer_b.close()
        missed = []
        for i, text in enumerate(["跨节点：第二问 盾构姿态", "跨节点：第三问 管线沉降"], start=1):
            qid = (await party.ask(askers[i], text)).json()["id"]
            await party.act(party.mod, qid, "approve")
            missed.append(qid)

        back_on_a = await WsClient(f"{a.ws_url}/api/v1/events/{party.slug}/ws").connect(last_id=last_seen)
        await back_on_a.wait(lambda f: f["type"] == "question.approved" and f["data"]["id"] == missed[-1])
        live = (await party.ask(askers[3], "跨节点：恢复后的实时问题")).json()["id"]
        await party.act(party.mod, live, "approve")
        await back_on_a.wait(lambda f: f["type"] == "question.approved" and f["data"]["id"] == live)
        ids = [f["id"] for f in back_on_a.numbered()]
        assert ids == list(range(last_seen + 1, last_seen + 1 + len(ids))), ids
        assert [f["data"]["id"] for f in back_on_a.of_type("question.approved")] == [*missed, live]
        await back_on_a.close()
        await moderator_b.close()


async def test_a_connect_storm_on_one_node_while_the_other_publishes_gets_every_frame_after_each_snapshot(
    nodes: tuple[Node, Node],
) -> None:
    # Viewers connecting together share the channel position reads (and snapshots); each snapshot's id must
    # still be followed by every later frame, once, while approvals published on the other node interleave.
    import asyncio

    a, b = nodes
    async with httpx.AsyncClient(base_url=a.base_url) as on_a:
        party = await Party.create(on_a)
        askers = [await party.viewer(f"观众{i}") for i in range(6)]
        qids = [(await party.ask(who, f"连接风暴：第{i}问 基坑降水")).json()["id"] for i, who in enumerate(askers)]
        url = f"{b.ws_url}/api/v1/events/{party.slug}/ws"

        async def approve_all() -> None:
            for qid in qids:
                await party.act(party.mod, qid, "approve")

        viewers, _ = await asyncio.gather(asyncio.gather(*(WsClient(url).connect() for _ in range(150))), approve_all())
        for viewer in viewers:
            snap = await viewer.wait(lambda f: f["type"] == "snapshot")
            seen = {q["id"] for q in snap["data"]["questions"]}
            for qid in qids:
                if qid not in seen:
                    await viewer.wait(lambda f, qid=qid: f["type"] == "question.approved" and f["data"]["id"] == qid)
            ids = [f["id"] for f in viewer.numbered()]
            assert ids == list(range(snap["id"] + 1, snap["id"] + 1 + len(ids))), ids
            await viewer.close()


async def test_join_rate_limit_is_shared_between_nodes(redis_url: str, tmp_path: Path) -> None:
    from tests.conftest import unique_slug
    from tests.support import live_server

    prefix = f"t{uuid.uuid4().hex[:8]}"
    db = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    upgrade(db)
    common = {
        "database_url": db,
        "media_dir": tmp_path / "m",
        "redis_url": redis_url,
        "redis_prefix": prefix,
        "join_rate_per_minute": 3,
    }
    async with live_server(**common) as a, live_server(**common) as b, httpx.AsyncClient() as c:
        slug = unique_slug()
        await c.post(
            f"{a.base_url}/api/v1/events",
            json={"slug": slug, "title_zh": "限流"},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        codes = [
            (await c.post(f"{node.base_url}/api/v1/events/{slug}/join", json={})).status_code for node in (a, b, a, b)
        ]
        assert codes == [201, 201, 201, 429]


async def test_poll_answers_on_both_nodes_reach_viewers_on_either_and_vote_once_holds_across_nodes(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    async with httpx.AsyncClient(base_url=a.base_url) as on_a, httpx.AsyncClient(base_url=b.base_url) as on_b:
        party = await Party.create(on_a)
        voters = [await party.viewer(f"观众{i}") for i in range(4)]
        viewer_b = await WsClient(f"{b.ws_url}/api/v1/events/{party.slug}/ws").connect()
        await viewer_b.wait(lambda f: f["type"] == "snapshot")
        made = await on_a.post(
            f"{party.base}/polls",
            json={"kind": "single", "prompt": "跨节点投票", "options": ["甲", "乙"]},
            headers=party.mod,
        )
        poll = made.json()["id"]
        await on_a.post(f"{party.base}/polls/{poll}/state", json={"state": "open"}, headers=party.mod)
        await viewer_b.wait(lambda f: f["type"] == "poll.opened" and f["data"]["id"] == poll)
        for i, who in enumerate(voters):
            node = on_a if i % 2 else on_b
            r = await node.post(f"{party.base}/polls/{poll}/answer", json={"answer": i % 2}, headers=who)
            assert r.status_code == 201, r.text
        twice = await on_b.post(f"{party.base}/polls/{poll}/answer", json={"answer": 0}, headers=voters[1])
        assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_answered"
        live = await viewer_b.wait(lambda f: f["type"] == "poll.results" and f["data"]["responses"] == 4)
        assert live["data"]["counts"] == [2, 2]
        last = viewer_b.last_id
        await viewer_b.close()
        await on_b.post(f"{party.base}/polls/{poll}/state", json={"state": "closed"}, headers=party.mod)
        back_on_a = await WsClient(f"{a.ws_url}/api/v1/events/{party.slug}/ws").connect(last_id=last)
        closed = await back_on_a.wait(lambda f: f["type"] == "poll.closed")
        assert closed["data"]["results"]["counts"] == [2, 2]
        await back_on_a.close()
