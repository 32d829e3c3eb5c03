"""Live captions end to end: a WHIP publisher speaks (espeak-ng) → `caption` frames on a viewer's
WebSocket → at the end, the transcript, captions.vtt and search are there at once (the draft)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.captions.webvtt import media_line
from server.db.migrate import upgrade
from tests.captions.speech import Script, SpeechTrack, espeak
from tests.conftest import ADMIN, unique_slug
from tests.media.publishers import AiortcPublisher
from tests.server.test_questions import Party, bearer
from tests.support import LiveServer, WsClient, live_server, wait_for

pytestmark = [pytest.mark.media, pytest.mark.slow]

# The first phrase is long enough for interim captions while it is spoken, even on a busy machine.
PHRASES = (
    "The foundation pit must be monitored every day, and the adjacent buildings are checked twice a week.",
    "Stop the excavation if the warning value is exceeded.",
)
# A word of the second phrase Whisper base hears in espeak-ng's voice: it hears "excavation" as
# "exclamation", biased or not (checked offline on the same clip).
SECOND = "warning"
# Recognition on a busy 2-core machine: each phrase is a second or two of CPU at worst.
CAPTION_WAIT_SECONDS = 60.0


@pytest.fixture(scope="module")
async def captioned(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'captions.db'}"
    upgrade(url)
    async with live_server(database_url=url, media_dir=tmp_path_factory.mktemp("media"), live_captions=True) as s:
        yield s


def finals(ws: WsClient) -> list[dict[str, Any]]:
    return [f["data"] for f in ws.of_type("caption") if f["data"]["final"]]


async def test_a_spoken_phrase_reaches_viewers_as_interim_then_final_captions_and_the_draft_is_searchable_at_the_end(
    captioned: LiveServer, tmp_path: Path
) -> None:
    slug = unique_slug("cap")
    async with httpx.AsyncClient(base_url=captioned.base_url, timeout=30) as http:
        created = await http.post(
            "/api/v1/events",
            json={"slug": slug, "title_zh": "基坑开挖答疑", "title_en": "Foundation pit Q&A"},
            headers=ADMIN,
        )
        assert created.status_code == 201, created.text
        live = await http.post(f"/api/v1/events/{slug}/state", json={"state": "live"}, headers=ADMIN)
        assert live.status_code == 200, live.text
        viewer = await WsClient(f"{captioned.ws_url}/api/v1/events/{slug}/ws").connect()
        script = Script([espeak(text, tmp_path / f"{i}.wav") for i, text in enumerate(PHRASES)])
        publisher = AiortcPublisher(captioned.base_url, slug, ADMIN["Authorization"][7:])
        publisher.audio_track = SpeechTrack(script)
        try:
            assert (await publisher.start()).status_code == 201
            await wait_for(lambda: len(finals(viewer)) >= 2, CAPTION_WAIT_SECONDS, message="two final captions")
        finally:
            await publisher.close()
        lines = finals(viewer)
        # The programme's multivariant playlist names the captions' WebVTT track for players that show it.
        master = (await http.get(f"/live/{slug}/master.m3u8")).text
        assert media_line() in master.splitlines() and 'SUBTITLES="subs"' in master, master
        text = " ".join(c["text"] for c in lines).lower()
        assert "monitored" in text and "building" in text and SECOND in text, lines
        assert all(isinstance(c["id"], int) and c["language"] == "en" for c in lines)
        # Times are on the recording clock: in order, each phrase about as long as it was spoken.
        assert lines[0]["start"] < lines[0]["end"] <= lines[1]["start"] < lines[1]["end"]
        assert 4.0 < lines[0]["end"] - lines[0]["start"] < 9.0
        interims = [f["data"] for f in viewer.of_type("caption") if not f["data"]["final"]]
        assert interims and all(c["id"] is None for c in interims)
        assert len({c["text"] for c in lines}) == len(lines)  # never a line twice

        # A moderator corrects the first line during the event: viewers see it replaced, it is audited.
        party = Party(http, slug)
        invite = await http.post(f"{party.base}/invites", json={"role": "moderator"}, headers=ADMIN)
        moderator = bearer(invite.json()["token"])
        fixed = lines[0]["text"].replace("pit", "pit (基坑)") + " Corrected"
        edit = await http.patch(f"{party.base}/captions/{lines[0]['id']}", json={"text": fixed}, headers=moderator)
        assert edit.status_code == 200, edit.text
        frame = await viewer.wait(lambda f: f["type"] == "caption" and f["data"].get("edited"), 10, "the correction")
        assert frame["data"]["id"] == lines[0]["id"] and frame["data"]["text"] == fixed

        ended_at = time.monotonic()
        response = await http.post(f"/api/v1/events/{slug}/state", json={"state": "ended"}, headers=ADMIN)
        assert response.status_code == 200, response.text
        found = await http.get("/api/v1/search", params={"q": SECOND})
        searchable_after = time.monotonic() - ended_at
        hits = [r for r in found.json()["results"] if r["event"]["slug"] == slug]
        assert hits and hits[0]["kind"] == "transcript", found.text
        assert searchable_after < 5.0
        vtt = await http.get(f"/archive/{slug}/captions.vtt")
        assert vtt.status_code == 200 and SECOND in vtt.text.lower()
        archive = (await http.get(f"/api/v1/events/{slug}/archive")).json()
        assert [ln["text"] for ln in archive["transcript"]][:2] == [fixed, lines[1]["text"]]
        corrected = (await http.get("/api/v1/search", params={"q": "corrected"})).json()["results"]
        assert [r["text"] for r in corrected if r["event"]["slug"] == slug] == [fixed]
        await viewer.close()
