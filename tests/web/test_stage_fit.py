"""An expert drawn small in the programme sends a smaller picture (the stage frame's `tile`, webrtc.js
`WhipSession.fit`): the server decodes fewer pixels and the expert's uplink carries fewer bits, and the
picture is full size again as soon as it is drawn large. Seen from the server: a staff monitor of the
expert (WHEP `?member=`) decodes what the expert sends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, unique_slug
from tests.media.publishers import AiortcPublisher, AiortcViewer
from tests.support import ADMIN_TOKEN, LiveServer, wait_for
from tests.web.test_flow import watch_page

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.media]

WAIT_MS = 15_000
# Chromium's bandwidth estimate starts low and grows by about 8 % a second on aiortc's REMB: from a
# 360-line start (or after a spell at 640×360) to full size again takes 10-30 s on a busy machine.
RAMP_S = 60
MEDIA_WAIT_MS = 40_000


class SizeWatcher(AiortcViewer):
    """The heights of the pictures a member sends, as decoded."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.heights: list[int] = []

    def on_frame(self, kind: str, frame: object) -> None:
        if kind == "video":
            self.heights.append(frame.height)  # type: ignore[attr-defined]

    def lately(self, count: int = 15) -> set[int]:
        return set(self.heights[-count:]) if len(self.heights) >= count else set()


async def test_an_expert_drawn_small_sends_a_smaller_picture_and_full_size_again_when_alone(
    browser: Any, page_server: LiveServer
) -> None:
    base = page_server.base_url
    slug = unique_slug("fit")
    async with httpx.AsyncClient(base_url=base, timeout=20) as api:
        made = await api.post("/api/v1/events", headers=ADMIN, json={"slug": slug, "title_zh": "深基坑专家连线"})
        assert made.status_code == 201, made.text
        invites = f"/api/v1/events/{slug}/invites"
        anna_url = (await api.post(invites, headers=ADMIN, json={"role": "expert", "name": "王岩土"})).json()["url"]
        ben = (await api.post(invites, headers=ADMIN, json={"role": "expert", "name": "赵结构"})).json()

    errors: list[str] = []
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 1000})
    publisher = AiortcPublisher(base, slug, ben["token"])
    watcher: SizeWatcher | None = None
    try:
        anna = await context.new_page()
        watch_page(anna, errors, confirm=True)
        await anna.goto(anna_url)
        await anna.wait_for_url(f"**/e/{slug}/studio")
        await anna.wait_for_function("() => document.querySelector('#preview').videoHeight === 720", timeout=WAIT_MS)
        await anna.get_by_role("button", name="开始直播").click()
        await anna.wait_for_selector('#onair[data-state="live"]', timeout=MEDIA_WAIT_MS)
        row = anna.locator('#stage-panel li[data-kind="expert"][data-on-air="true"]')
        await row.wait_for(timeout=WAIT_MS)
        anna_id = await row.get_attribute("data-member")

        watcher = SizeWatcher(base, slug, ADMIN_TOKEN, member=anna_id)
        assert (await watcher.start()).status_code == 201
        # Alone on air she is forwarded as she sends: above 360 lines once her browser's bandwidth estimate
        # has grown (it starts low, at 360 or less).
        await wait_for(
            lambda: watcher.lately() and min(watcher.lately()) > 360, RAMP_S, message="above 360 lines alone"
        )

        # Ben joins backstage and the host (the admin here) puts him on air in the grid: two 640×360 tiles.
        assert (await publisher.start()).status_code == 201
        assert publisher.location is not None
        ben_id = publisher.location.rsplit("/", 1)[-1]
        async with httpx.AsyncClient(base_url=base, timeout=20) as api:
            stage = f"/api/v1/events/{slug}/stage"
            assert (
                await api.patch(f"{stage}/members/{ben_id}", json={"on_air": True}, headers=ADMIN)
            ).status_code == 200
            grid = await api.patch(stage, json={"layout": "grid"}, headers=ADMIN)
            assert grid.status_code == 200, grid.text
            tiles = {m["id"]: m["tile"] for m in grid.json()["members"]}
            assert tiles[anna_id] == [640, 360]
        # 1280×720 drawn in 640×360: Anna sends at most 640×360 (her browser may send less still, as
        # congestion control or the CPU asks).
        await wait_for(lambda: watcher.lately() and max(watcher.lately()) <= 360, 30, message="a 360p picture")

        # Ben off air: Anna is forwarded as she sends, full size again.
        async with httpx.AsyncClient(base_url=base, timeout=20) as api:
            off = await api.patch(f"{stage}/members/{ben_id}", json={"on_air": False}, headers=ADMIN)
            assert off.status_code == 200, off.text
            assert {m["id"]: m["tile"] for m in off.json()["members"]}[anna_id] is None
        await wait_for(lambda: watcher.lately() and min(watcher.lately()) > 360, RAMP_S, message="above 360 again")
    finally:
        if watcher is not None:
            runs = [h for i, h in enumerate(watcher.heights) if i == 0 or watcher.heights[i - 1] != h]
            print("heights in turn:", runs, "over", len(watcher.heights), "pictures")
            await watcher.close()
        await publisher.close()
        await context.close()
    assert errors == []
