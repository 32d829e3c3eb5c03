"""Viewers learn which sources are on air (camera, screen) so the page can show the shared screen."""

from __future__ import annotations

import httpx
import pytest

from tests.media.conftest import requires_ffmpeg
from tests.media.publishers import AiortcPublisher
from tests.server.test_questions import Party
from tests.support import LiveServer, WsClient

pytestmark = [pytest.mark.slow, pytest.mark.media, requires_ffmpeg]


async def test_screen_share_is_announced_and_withdrawn(server: LiveServer, client: httpx.AsyncClient) -> None:
    party = await Party.create(client)
    token = party.expert["Authorization"].removeprefix("Bearer ")
    watcher = await WsClient(f"{server.ws_url}/api/v1/events/{party.slug}/ws").connect()
    snap = await watcher.wait(lambda f: f["type"] == "snapshot")
    assert snap["data"]["stream"] == {"state": "idle", "sources": []}
    camera = AiortcPublisher(server.base_url, party.slug, token)
    screen = AiortcPublisher(server.base_url, party.slug, token, source="screen")
    try:
        assert (await camera.start()).status_code == 201
        await watcher.wait(
            lambda f: f["type"] == "stream.state" and f["data"] == {"state": "live", "sources": ["camera"]}
        )
        assert (await screen.start()).status_code == 201
        both = {"state": "live", "sources": ["camera", "screen"]}
        await watcher.wait(lambda f: f["type"] == "stream.state" and f["data"] == both)
        late = await WsClient(f"{server.ws_url}/api/v1/events/{party.slug}/ws").connect()
        assert (await late.wait(lambda f: f["type"] == "snapshot"))["data"]["stream"] == both
        await late.close()
        assert (await screen.delete()).status_code == 200
        await watcher.wait(
            lambda f: (
                f["type"] == "stream.state"
                and f["data"] == {"state": "live", "sources": ["camera"]}
                and f["id"] > max(x["id"] for x in watcher.of_type("stream.state") if x["data"] == both)
            )
        )
    finally:
        await screen.close()
        await camera.close()
    await watcher.close()
