"""Late joiners: the WebSocket snapshot carries the newest caption lines (corrections applied), so a
viewer who joins, or resyncs, reads the current caption at once instead of waiting for the next phrase."""

from __future__ import annotations

from typing import Any

import httpx

from server.captions.recent import RECENT_LINES
from server.db.models import TranscriptSegment
from server.services.events import get_event
from tests.conftest import ADMIN
from tests.server.test_questions import Party
from tests.support import LiveServer, WsClient

SPOKEN = [
    "基坑开挖前先降水。",
    "The struts are preloaded.",
    "支撑轴力每天监测两次。",
    "Stop if the warning value is exceeded.",
]


async def spoken(server: LiveServer, slug: str) -> list[int]:
    """The live captions' final lines as the recogniser stores them (source "live"), one per phrase."""
    ctx = server.app.state.ctx
    async with ctx.session() as session:
        event_id = (await get_event(session, slug)).id
        rows = [
            TranscriptSegment(
                event_id=event_id,
                start=3.0 * i,
                end=3.0 * i + 2.5,
                language="en" if i % 2 else "zh",
                text=text,
                source="live",
            )
            for i, text in enumerate(SPOKEN)
        ]
        session.add_all(rows)
        await session.commit()
        return [row.id for row in rows]


async def snapshot(ws: WsClient) -> dict[str, Any]:
    frame = await ws.wait(lambda f: f["type"] == "snapshot", 10, "snapshot")
    return dict(frame["data"])


async def test_a_late_joiner_reads_the_newest_caption_lines_with_corrections_in_the_snapshot_and_again_after_a_resync(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    party = await Party.create(client)
    ws_url = f"{server.ws_url}{party.base}/ws"
    early = await WsClient(ws_url).connect()
    assert (await snapshot(early))["captions"] == []  # scheduled: nothing spoken yet
    live = await client.post(f"{party.base}/state", json={"state": "live"}, headers=ADMIN)
    assert live.status_code == 200, live.text
    ids = await spoken(server, party.slug)

    fixed = "支撑轴力每天监测两次(已更正)。"
    edit = await client.patch(f"{party.base}/captions/{ids[2]}", json={"text": fixed}, headers=party.mod)
    assert edit.status_code == 200, edit.text

    viewer = await WsClient(ws_url).connect()
    lines = (await snapshot(viewer))["captions"]
    assert [line["id"] for line in lines] == ids[-RECENT_LINES:]  # the newest, oldest first
    assert [line["text"] for line in lines] == [SPOKEN[1], fixed, SPOKEN[3]]
    assert [line["edited"] for line in lines] == [False, True, False]
    assert [line["language"] for line in lines] == ["en", "zh", "en"]
    assert all(line["final"] and line["start"] < line["end"] for line in lines)

    staff = await WsClient(f"{ws_url}?as=staff", headers=party.mod).connect()
    assert [line["text"] for line in (await snapshot(staff))["captions"]] == [SPOKEN[1], fixed, SPOKEN[3]]

    # The socket that joined before anything was said lost track (a position the server never
    # numbered): it is told to resync and its fresh snapshot has the lines too.
    await early.send({"type": "hello", "last_id": 10**9})
    await early.wait(lambda f: f["type"] == "resync_required", 10, "resync_required")
    early.frames.clear()
    await early.send({"type": "hello", "last_id": None})
    assert [line["id"] for line in (await snapshot(early))["captions"]] == ids[-RECENT_LINES:]

    # Once the event has ended the captions are the archive's: a new snapshot carries none.
    ended = await client.post(f"{party.base}/state", json={"state": "ended"}, headers=ADMIN)
    assert ended.status_code == 200, ended.text
    after = await WsClient(ws_url).connect()
    assert (await snapshot(after))["captions"] == []
    for ws in (early, viewer, staff, after):
        await ws.close()
