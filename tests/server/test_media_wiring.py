"""WHIP/WHEP through the real app: our tokens and roles, stream.state on the WebSocket, end → archive."""

from __future__ import annotations

import httpx
import pytest

from tests.media.conftest import requires_ffmpeg
from tests.media.publishers import AiortcPublisher
from tests.server.test_questions import Party
from tests.support import LiveServer, WsClient, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.media, requires_ffmpeg]


async def test_expert_publishes_viewers_see_state_and_hls_then_archive(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    party = await Party.create(client)
    viewer = await party.viewer()
    expert_token = party.expert["Authorization"].removeprefix("Bearer ")
    for token, status in [
        ("forged", 401),
        (viewer["Authorization"].removeprefix("Bearer "), 403),
        (party.mod["Authorization"].removeprefix("Bearer "), 403),
    ]:
        refused = await client.post(
            f"/whip/{party.slug}",
            content="v=0\r\n",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"},
        )
        assert refused.status_code == status, refused.text
        assert refused.json()["error"]["message"]
    unknown = await client.post(
        "/whip/no-such-event",
        content="v=0\r\n",
        headers={"Authorization": f"Bearer {expert_token}", "Content-Type": "application/sdp"},
    )
    assert unknown.status_code == 404

    watcher = await WsClient(f"{server.ws_url}/api/v1/events/{party.slug}/ws").connect()
    await watcher.wait(lambda f: f["type"] == "snapshot")
    await client.post(f"{party.base}/state", json={"state": "live"}, headers=party.expert)
    publisher = AiortcPublisher(server.base_url, party.slug, expert_token)
    try:
        answer = await publisher.start()
        assert answer.status_code == 201, answer.text
        await watcher.wait(lambda f: f["type"] == "stream.state" and f["data"]["state"] == "live", timeout=20)

        async def listed() -> bool:
            playlist = await client.get(f"/live/{party.slug}/index.m3u8")
            return playlist.status_code == 200 and playlist.text.count("#EXTINF") >= 2

        await wait_for(listed, 20, message="live HLS segments")
        snapshot = await WsClient(f"{server.ws_url}/api/v1/events/{party.slug}/ws").connect()
        snap = await snapshot.wait(lambda f: f["type"] == "snapshot")
        assert snap["data"]["stream"]["state"] == "live"
        await snapshot.close()
    finally:
        await publisher.close()
    ended = await client.post(f"{party.base}/state", json={"state": "ended"}, headers=party.expert)
    assert ended.status_code == 200
    await watcher.wait(lambda f: f["type"] == "stream.state" and f["data"]["state"] == "ended", timeout=20)
    archive = await client.get(f"/archive/{party.slug}/index.m3u8")
    assert archive.status_code == 200 and archive.text.rstrip().endswith("#EXT-X-ENDLIST")

    # The MP4 is an archive job: ending the event does not wait for it.
    async def remuxed() -> httpx.Response | None:
        mp4 = await client.get(f"/archive/{party.slug}/recording.mp4")
        return mp4 if mp4.status_code == 200 else None

    mp4 = await wait_for(remuxed, 60, message="recording.mp4 from the mp4 archive job")
    assert len(mp4.content) > 10_000
    archive_index = await client.get(f"/archive/{party.slug}/index.m3u8")
    assert "#EXT-X-PROGRAM-DATE-TIME:" in archive_index.text  # moments of the event map onto the recording
    await watcher.close()
