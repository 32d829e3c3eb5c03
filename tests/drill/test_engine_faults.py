"""The engines themselves failing mid-traffic: Redis away for 10 s and back empty, PostgreSQL cut.

Web processes keep serving what they can, answer 503 `unavailable` (WebSocket 1013) for what they
cannot, never 500, reconnect by themselves, and every question they accepted (201) is kept and shown.

PostgreSQL's restart is played by a TCP proxy between the web process and the test server that drops
every connection and refuses new ones for a while (a private `pg_ctl` cluster cannot be initialised as
root here): to the application that is what a restart looks like.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.drill.procs import web_process, web_process_behind_cuttable_postgresql
from tests.server.test_questions import Party
from tests.support import (
    WsClient,
    free_port,
    postgres_admin_dsn,
    wait_for,
)

pytestmark = pytest.mark.slow

REDIS_AWAY_S = 10.0
PG_AWAY_S = 5.0
PACE_S = 0.3  # one round of requests every 0.3 s while an engine is away


class PrivateRedis:
    """A redis-server this test may stop and start again on the same port (no persistence: back empty)."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("no redis-server installed")
        self.binary = binary
        self.port = free_port()
        self.directory = directory
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen([self.binary, *args, "--dir", str(self.directory)], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


async def _ask(party: Party, n: int) -> tuple[int, int | None]:
    joined = await party.client.post(
        f"{party.base}/join", json={"name": f"观众{n}", "organisation": "某监理单位", "stakeholder": "supervision"}
    )
    if joined.status_code != 201:
        return joined.status_code, None
    who = {"Authorization": f"Bearer {joined.json()['token']}"}
    asked = await party.ask(who, f"第{n}个问题：基坑第{n}层支撑拆除前，监测数据要满足什么条件？")
    return asked.status_code, (asked.json()["id"] if asked.status_code == 201 else None)


def _json_error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


async def test_redis_away_for_10s_and_back_empty_loses_no_accepted_question(tmp_path: Path) -> None:
    redis = PrivateRedis(tmp_path)
    redis.start()
    try:
        async with (
            web_process(tmp_path, REDIS_URL=redis.url) as node,
            httpx.AsyncClient(base_url=node.base_url, timeout=20) as client,
        ):
            party = await Party.create(client)
            url = f"{node.ws_url}/api/v1/events/{party.slug}/ws"
            moderator = await WsClient(url, {"Authorization": party.mod["Authorization"]}).connect()
            await moderator.wait(lambda f: f["type"] == "snapshot")
            status, first = await _ask(party, 0)
            assert status == 201
            await moderator.wait(lambda f: f["type"] == "question.submitted" and f["data"]["id"] == first)

            redis.stop()
            away = time.monotonic()
            statuses: list[int] = []
            accepted = [first]
            n = 1
            while time.monotonic() - away < REDIS_AWAY_S:
                status, qid = await _ask(party, n)  # joining and asking need the database only: served
                statuses.append(status)
                if qid is not None:
                    accepted.append(qid)
                listed = await client.get(f"{party.base}/questions", headers=party.mod)
                statuses.append(listed.status_code)
                n += 1
                await asyncio.sleep(PACE_S)  # the traffic's pace
            # A new WebSocket needs the channel's position from Redis: told to come back, not dropped.
            late = await WsClient(url).connect()
            await wait_for(lambda: late.closed_code is not None, 10, message="late socket closed")
            assert late.closed_code == 1013

            assert 500 not in statuses, statuses
            assert set(statuses) <= {200, 201}, statuses
            assert len(accepted) > 5

            redis.start()  # back, empty: every stream and counter is gone
            back = time.monotonic()
            seen = len(moderator.frames)
            await moderator.wait(
                lambda f: f in moderator.frames[seen:] and f["type"] == "resync_required", 15, "resync"
            )
            resynced = time.monotonic() - back
            await moderator.send({"type": "hello", "last_id": None})
            snapshot = await moderator.wait(lambda f: f in moderator.frames[seen:] and f["type"] == "snapshot")
            assert set(accepted) <= {q["id"] for q in snapshot["data"]["questions"]}

            # And live again: a new question reaches the moderator's socket (no reconnect needed).
            status, after = await _ask(party, 999)
            assert status == 201
            await moderator.wait(lambda f: f["type"] == "question.submitted" and f["data"]["id"] == after, 10)
            print(
                f"Redis away {REDIS_AWAY_S:.0f} s: {len(statuses)} requests served (no 5xx), "
                f"{len(accepted)} questions accepted, all in the snapshot after a resync {resynced:.2f} s "
                "after Redis came back"
            )
            await moderator.close()
    finally:
        redis.stop()


async def test_postgresql_cut_mid_traffic_answers_503_then_recovers_and_keeps_every_accepted_question(
    tmp_path: Path,
) -> None:
    async with (
        web_process_behind_cuttable_postgresql(tmp_path) as (node, proxy, database),
        httpx.AsyncClient(base_url=node.base_url, timeout=20) as client,
    ):
        party = await Party.create(client)
        assert (
            await client.patch(f"{party.base}/moderation", json={"rate_limit_seconds": 0}, headers=party.mod)
        ).status_code == 200

        results: list[tuple[float, int, int | None]] = []  # (when, status, accepted id)
        errors: list[dict[str, Any]] = []
        stop = asyncio.Event()

        async def traffic(lane: int) -> None:
            n = lane * 10_000
            while not stop.is_set():
                status, qid = await _ask(party, n)
                results.append((time.monotonic(), status, qid))
                n += 1
                await asyncio.sleep(PACE_S)  # the traffic's pace

        lanes = [asyncio.create_task(traffic(lane)) for lane in range(3)]
        await wait_for(lambda: sum(s == 201 for _, s, _ in results) >= 6, 30, message="traffic flowing")

        proxy.cut()  # PostgreSQL "restarts": every connection dropped, none accepted for a while
        cut_at = time.monotonic()
        during_metrics = (await client.get("/metrics")).status_code  # what needs no database still works
        unavailable = await client.get(f"{party.base}/questions", headers=party.mod)
        await asyncio.sleep(PG_AWAY_S)  # the outage's length, while the traffic lanes keep asking
        proxy.restore()
        back_at = time.monotonic()
        await wait_for(lambda: any(t > back_at and s == 201 for t, s, _ in results), 30, message="asking works again")
        recovered = min(t for t, s, _ in results if t > back_at and s == 201) - back_at
        stop.set()
        await asyncio.gather(*lanes)

        statuses = [s for _, s, _ in results]
        assert 500 not in statuses and set(statuses) <= {201, 503}, statuses
        assert any(s == 503 for t, s, _ in results if cut_at <= t <= back_at), "the outage was noticed"
        assert during_metrics == 200
        assert unavailable.status_code == 503
        errors.append(_json_error(unavailable))
        assert errors[0]["code"] == "unavailable" and errors[0]["message"]
        assert unavailable.headers["Retry-After"]

        accepted = {qid for _, s, qid in results if s == 201 and qid is not None}
        conn = await asyncpg.connect(postgres_admin_dsn(database))
        try:
            stored = {r["id"] for r in await conn.fetch("SELECT id FROM questions")}
        finally:
            await conn.close()
        assert accepted <= stored, accepted - stored
        print(
            f"PostgreSQL cut {PG_AWAY_S:.0f} s: {statuses.count(201)} questions accepted, all stored; "
            f"{statuses.count(503)} answered 503, none 500; asking worked again {recovered:.2f} s after"
        )
