"""Pictures in the report: stills taken from the event's recording with ffmpeg, cached beside it."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from archive.stills import pick_times
from tests.conftest import ADMIN
from tests.support import LiveServer

pytestmark = pytest.mark.media


def make_recording(path: Path, seconds: int = 4) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    source = f"testsrc=size=320x180:rate=10:duration={seconds}"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", source, "-c:v", "mpeg4", "-q:v", "5", str(path)],
        check=True,
        timeout=60,
    )


def test_stills_are_spread_over_the_recording() -> None:
    assert pick_times(80, 4) == [10, 30, 50, 70]
    assert pick_times(0, 4) == [] and pick_times(10, 0) == []


async def test_stills_from_the_recording(client: httpx.AsyncClient, server: LiveServer, event: dict[str, Any]) -> None:
    slug = event["slug"]
    recording = Path(server.settings.media_dir) / slug / "recording.mp4"
    make_recording(recording)
    body = (await client.get(f"/api/v1/events/{slug}/report", headers=ADMIN)).json()
    pictures = body["pictures"]
    assert pictures["recording"] is True
    assert [s["at_seconds"] for s in pictures["stills"]] == [0.5, 1.5, 2.5, 3.5]
    url = pictures["stills"][0]["url"]
    assert url == f"{server.base_url}/e/{slug}/report/stills/still-1.jpg"
    image = await client.get(url, headers=ADMIN)
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.content[:3] == b"\xff\xd8\xff"
    assert (await client.get(url)).status_code == 401  # the report's pictures are the staff's
    assert (await client.get(url.replace("still-1", "../recording"), headers=ADMIN)).status_code == 404

    cached = recording.parent / "stills" / "still-1.jpg"
    first = cached.stat().st_mtime_ns
    await client.get(f"/api/v1/events/{slug}/report", headers=ADMIN)
    assert cached.stat().st_mtime_ns == first  # extracted once
    page = await client.get(f"/e/{slug}/report", headers=ADMIN)
    assert page.text.count('<img src="/e/') == 4 and "本活动暂无录像" not in page.text


async def test_a_broken_recording_says_no_pictures(
    client: httpx.AsyncClient, server: LiveServer, event: dict[str, Any]
) -> None:
    recording = Path(server.settings.media_dir) / event["slug"] / "recording.mp4"
    recording.parent.mkdir(parents=True, exist_ok=True)
    recording.write_bytes(b"not a video")
    body = (await client.get(f"/api/v1/events/{event['slug']}/report", headers=ADMIN)).json()
    assert body["pictures"] == {"recording": True, "stills": []}
    page = await client.get(f"/e/{event['slug']}/report?lang=en", headers=ADMIN)
    assert "No pictures could be taken from the recording." in page.text
