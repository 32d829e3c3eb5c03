"""Two server processes record one participant's tabs (one on each node): the report counts them once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from server.db.engine import Database
from server.db.models import AttendanceSpan
from tests.conftest import ADMIN
from tests.server.test_questions import Party
from tests.server.test_scale_out import Node, two_nodes
from tests.support import WsClient, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
async def cluster(redis_url: str, tmp_path: Path) -> AsyncIterator[tuple[Node, Node, str]]:
    env = {"ATTENDANCE_FLUSH_SECONDS": "0.2", "ATTENDANCE_GRACE_SECONDS": "1"}
    async with two_nodes(redis_url, tmp_path, **env) as cluster:
        yield cluster


async def test_one_participant_on_two_nodes_is_one_viewer(cluster: tuple[Node, Node, str]) -> None:
    a, b, url = cluster
    db = Database(url)
    try:
        async with httpx.AsyncClient(base_url=a.base_url) as on_a:
            party = await Party.create(on_a)
            viewer = await party.viewer("王工")
            assert (await on_a.post(f"{party.base}/state", json={"state": "live"}, headers=ADMIN)).status_code == 200
        token = viewer["Authorization"].split()[1]
        path = f"/api/v1/events/{party.slug}/ws?token={token}"
        tab_a = await WsClient(a.ws_url + path).connect()
        tab_b = await WsClient(b.ws_url + path).connect()
        await tab_a.wait(lambda f: f["type"] == "snapshot")
        await tab_b.wait(lambda f: f["type"] == "snapshot")

        async def spans() -> list[AttendanceSpan]:
            async with db.session() as session:
                rows = await session.execute(
                    select(AttendanceSpan).where(AttendanceSpan.participant_id == int(viewer["X-Participant"]))
                )
                return list(rows.scalars())

        async def two_nodes_wrote() -> bool:
            return len({s.node for s in await spans()}) == 2

        await wait_for(two_nodes_wrote, 15, message="a span from each node")
        await tab_a.close()
        await tab_b.close()

        async def closed() -> bool:
            rows = await spans()
            return len(rows) == 2 and all(s.ended_at is not None for s in rows)

        await wait_for(closed, 15, message="both spans closed")
        async with httpx.AsyncClient(base_url=b.base_url) as on_b:
            report = (await on_b.get(f"{party.base}/report", headers=ADMIN)).json()
        attendance = report["attendance"]
        assert (attendance["live_viewers"], attendance["peak_concurrent"], attendance["joined"]) == (1, 1, 1)
        rows = await spans()
        union = max(s.ended_at for s in rows) - min(s.started_at for s in rows)
        assert attendance["live_minutes"] == round(union.total_seconds() / 60, 1)
    finally:
        await db.dispose()
