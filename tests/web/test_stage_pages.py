"""The stage in real browsers: two experts publish from their studios (Chromium, fake devices, each
microphone its own tone), see and hear each other, the host puts the second on air and picks the grid; a
viewer (a third browser, English, phone width) raises a hand on their question, the moderator invites them,
previews their microphone backstage, puts them on air (the question is "answering now") and cuts them with
one click. The programme's HLS, decoded, shows the layouts in turn and carries every voice on air, by FFT."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from server.media.hls import SEGMENT_LOG
from tests.conftest import ADMIN, unique_slug
from tests.media.test_stage import segments, voices_of
from tests.support import LiveServer, live_server, wait_for
from tests.web.conftest import CHROMIUM, FLAGS, screenshot_path
from tests.web.phone import PHONE, assert_fits_phone
from tests.web.test_flow import watch_page

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.media]

MEDIA_WAIT_MS = 40_000
WAIT_MS = 15_000
ANNA_TONE, BEN_TONE, GUEST_TONE = 700.0, 1300.0, 1900.0
# Luma of each expert's fake camera (a flat colour), as it comes out of the programme's H.264.
ANNA_SHADE, BEN_SHADE = 222, 85
SHADE_TOLERANCE = 30

# The fake microphones play steady tones, which a noise suppressor takes for noise and removes: switch the
# suppressor (and gain control) off under the pages, keeping the echo cancellation they ask for.
UNSUPPRESSED = """
(() => {
  const devices = navigator.mediaDevices;
  if (!devices) return;
  const original = devices.getUserMedia.bind(devices);
  devices.getUserMedia = (constraints) => {
    if (constraints && constraints.audio) {
      const audio = constraints.audio === true ? {} : constraints.audio;
      constraints = {...constraints, audio: {...audio, noiseSuppression: false, autoGainControl: false}};
    }
    return original(constraints);
  };
})();
"""


@pytest.fixture
async def stage_server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    from server.db.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'stage.db'}"
    upgrade(url)
    async with live_server(database_url=url, media_dir=tmp_path / "media") as server:
        yield server


def capture_files(directory: Path, name: str, tone: float, colour: str) -> tuple[Path, Path]:
    run = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
    video, audio = directory / f"{name}.y4m", directory / f"{name}.wav"
    picture = f"color=c={colour}:size=320x180:rate=10:duration=3"
    subprocess.run([*run, "-f", "lavfi", "-i", picture, "-pix_fmt", "yuv420p", str(video)], check=True, timeout=60)
    sine = f"sine=frequency={tone}:sample_rate=48000:duration=30"
    subprocess.run([*run, "-f", "lavfi", "-i", sine, "-ac", "2", str(audio)], check=True, timeout=60)
    return video, audio


async def launch(pw: Any, video: Path, audio: Path) -> Any:
    args = [
        *FLAGS,
        "--autoplay-policy=no-user-gesture-required",
        f"--use-file-for-fake-video-capture={video}",
        f"--use-file-for-fake-audio-capture={audio}",
    ]
    return await pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)


def listed(directory: Path) -> int:
    log = directory / SEGMENT_LOG
    return len(log.read_text().splitlines()) if log.is_file() else 0


def near(value: float, shade: int) -> bool:
    return abs(value - shade) <= SHADE_TOLERANCE


def picture_of(path: Path) -> str:
    """Which layout a segment's last picture shows (server/media/layout.py's geometry, 1280×720)."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            return "empty"
        frame = None
        for frame in container.decode(video=0):  # noqa: B007  the last one
            pass
    if frame is None:
        return "empty"
    luma = frame.to_ndarray(format="gray")
    if frame.width != 1280:
        return "forward" if near(float(luma.mean()), ANNA_SHADE) else "unknown"
    at = lambda x, y: float(luma[y - 8 : y + 8, x - 8 : x + 8].mean())  # noqa: E731
    # Speaker: Anna's tile (0..960) holds x = 800; grid: Ben's (640..1280) does; three in the grid: the two
    # experts above (y 0..360), the viewer's tile below.
    if near(at(800, 360), ANNA_SHADE) and near(at(1120, 360), BEN_SHADE):
        return "speaker"
    if near(at(320, 360), ANNA_SHADE) and near(at(800, 360), BEN_SHADE):
        return "grid"
    if near(at(320, 180), ANNA_SHADE) and near(at(960, 180), BEN_SHADE):
        return "grid3"
    return "unknown"


async def playing(page: Any, selector: str) -> None:
    await page.wait_for_function(
        f"() => {{ const v = document.querySelector({selector!r});"
        " return v && v.videoWidth > 0 && v.currentTime > 0.5; }",
        timeout=MEDIA_WAIT_MS,
    )


# Three Chromiums (each encoding a camera and decoding two or three others, the viewer's also playing the
# 720p programme) and the compositor do not fit on this shared 2-core machine at load 15–30 (CPU pressure
# 98 %): every WebRTC session's ICE consent expired 50–75 s in, on the server (aioice answers each consent
# check within 0.5 s or counts a failure) and in Chromium alike, and the viewer's Chromium stopped sending for
# seconds. The experts come back (re-published, back on air in their place), a viewer cannot (a new invitation
# is needed). At load 12–13 it passed whole in 51 s (XPASS: forward → speaker → grid → three → grid, the
# three tones together while the viewer was on air). Kept running, not strict (the composed programme itself
# is COMPOSE_FLAKY in tests/media/test_stage.py): an XPASS shows it fits. The monitors now restart by
# themselves (stage_staff.js's watchdog) and a dropped viewer keeps the invitation, but comes back as a new
# member backstage, which this script does not follow: at load 9-12 it passed 4 of 4, at load 10-12 (two
# more busy processes) it failed 3 of 3 as before the watchdog (the viewer's session dropped: its row gone
# before the moderator could put it on air or cut it).
@pytest.mark.xfail(strict=False, reason="CPU starvation on the shared machine expires WebRTC sessions (see above)")
async def test_two_experts_and_a_viewer_on_air_from_the_pages(stage_server: LiveServer, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}")
    base = stage_server.base_url
    slug = unique_slug("stage")
    async with httpx.AsyncClient(base_url=base, timeout=20) as api:
        made = await api.post(
            "/api/v1/events",
            headers=ADMIN,
            json={"slug": slug, "title_zh": "深基坑支护专家连线答疑", "title_en": "Deep excavation panel Q&A"},
        )
        assert made.status_code == 201, made.text
        invites = f"/api/v1/events/{slug}/invites"
        anna_url = (await api.post(invites, headers=ADMIN, json={"role": "expert", "name": "王岩土"})).json()["url"]
        ben_url = (await api.post(invites, headers=ADMIN, json={"role": "expert", "name": "赵结构"})).json()["url"]
        mod_url = (await api.post(invites, headers=ADMIN, json={"role": "moderator", "name": "李主持"})).json()["url"]
        joined = await api.post(
            f"/api/v1/events/{slug}/join", json={"name": "Li Wei", "organisation": "Metro Line 5 contractor"}
        )
        viewer_token = joined.json()["token"]
        question = "Our pit is 8 m from the tunnel: how often should we monitor settlement?"
        asked = await api.post(
            f"/api/v1/events/{slug}/questions",
            json={"text": question},
            headers={"Authorization": f"Bearer {viewer_token}"},
        )
        qid = asked.json()["id"]

    media = stage_server.settings.media_dir / slug
    anna_files = capture_files(tmp_path, "anna", ANNA_TONE, "0xF0F0F0")
    ben_files = capture_files(tmp_path, "ben", BEN_TONE, "0x505050")
    guest_files = capture_files(tmp_path, "guest", GUEST_TONE, "0x808080")
    errors: list[str] = []
    changes: list[str] = []  # every stage change a page asked for, to tell who did what when a run fails
    marks: dict[str, int] = {}
    async with async_playwright() as pw:
        browsers = [await launch(pw, *files) for files in (anna_files, ben_files, guest_files)]
        try:
            anna_ctx = await browsers[0].new_context(locale="zh-CN", viewport={"width": 1440, "height": 1000})
            ben_ctx = await browsers[1].new_context(locale="zh-CN", viewport={"width": 1440, "height": 1000})
            mod_ctx = await browsers[1].new_context(locale="zh-CN", viewport={"width": 1440, "height": 1000})
            viewer_ctx = await browsers[2].new_context(locale="en-US", viewport=PHONE)
            for ctx in (anna_ctx, ben_ctx, viewer_ctx):
                await ctx.add_init_script(UNSUPPRESSED)
            for ctx, who in ((anna_ctx, "anna"), (ben_ctx, "ben"), (mod_ctx, "mod"), (viewer_ctx, "viewer")):
                ctx.on(
                    "request",
                    lambda r, who=who: (
                        changes.append(f"{who} {r.method} {r.url.split('/api/v1/events/')[-1]}")
                        if r.method in ("PATCH", "DELETE", "POST") and "/ws" not in r.url
                        else None
                    ),
                )
            await viewer_ctx.add_cookies([{"name": f"sitecast_{slug}", "value": viewer_token, "url": base}])

            # 1. Anna (the first expert: the host) goes live; Ben joins backstage.
            anna = await anna_ctx.new_page()
            watch_page(anna, errors, confirm=True)
            await anna.goto(anna_url)
            await anna.wait_for_url(f"**/e/{slug}/studio")
            await anna.wait_for_function("() => document.querySelector('#preview').videoWidth > 0", timeout=WAIT_MS)
            await anna.get_by_role("button", name="开始直播").click()
            await anna.wait_for_selector('#onair[data-state="live"]', timeout=MEDIA_WAIT_MS)
            await anna.wait_for_selector('#stage-panel[data-host="true"] li[data-kind="expert"][data-on-air="true"]')
            ben = await ben_ctx.new_page()
            watch_page(ben, errors, confirm=True)
            await ben.goto(ben_url)
            await ben.wait_for_function("() => document.querySelector('#preview').videoWidth > 0", timeout=WAIT_MS)
            await ben.get_by_role("button", name="开始直播").click()
            await ben.wait_for_selector('#preview-tag[data-state="backstage"]', timeout=MEDIA_WAIT_MS)
            assert await ben.get_attribute("#stage-panel", "data-host") == "false"  # Anna hosts
            assert await ben.locator('#stage-panel [data-role="on-air"]').count() == 0

            # 2. They see and hear each other over WHEP, Ben still backstage.
            ben_row = anna.locator('#stage-panel li[data-kind="expert"][data-on-air="false"]')
            await ben_row.wait_for(timeout=WAIT_MS)
            ben_id = await ben_row.get_attribute("data-member")
            await playing(anna, f'li[data-member="{ben_id}"] video')
            await anna.wait_for_function(
                f"() => +document.querySelector('li[data-member=\"{ben_id}\"] .stage-tile').dataset.level > 5",
                timeout=WAIT_MS,
            )
            anna_row = ben.locator('#stage-panel li[data-kind="expert"][data-on-air="true"]')
            anna_id = await anna_row.get_attribute("data-member")
            await playing(ben, f'li[data-member="{anna_id}"] video')
            assert await anna.locator("#stage-title").text_content() == "舞台：上播与连麦"
            marks["forward"] = listed(media)

            # 3. The host puts Ben on air (speaker layout: Anna large), then picks the grid with the keyboard.
            await anna.locator(f'li[data-member="{ben_id}"] [data-role="on-air"]').click()
            await ben.wait_for_selector('#preview-tag[data-state="on_air"]', timeout=WAIT_MS)
            await _segments_after(media, 4)
            marks["speaker"] = listed(media)
            grid = anna.locator('[data-layout="grid"]')
            await grid.focus()
            await anna.keyboard.press("Enter")
            await anna.wait_for_selector('[data-layout="grid"][aria-pressed="true"]', timeout=WAIT_MS)
            await ben.wait_for_selector('[data-layout="grid"][aria-pressed="true"]', timeout=WAIT_MS)
            await _segments_after(media, 4)
            marks["grid"] = listed(media)

            # 4. The viewer (English, phone width) raises a hand on their approved question, by keyboard.
            async with httpx.AsyncClient(base_url=base, timeout=20) as api:
                actions = f"/api/v1/events/{slug}/questions/{qid}/actions"
                done = await api.post(actions, json={"action": "approve"}, headers=ADMIN)
                assert done.status_code == 200, done.text
            viewer = await viewer_ctx.new_page()
            watch_page(viewer, errors)
            await viewer.goto(f"{base}/e/{slug}")
            hand = viewer.get_by_role("button", name="Raise hand to speak")
            await hand.wait_for(timeout=WAIT_MS)
            await hand.focus()
            await viewer.keyboard.press("Space")
            await viewer.wait_for_selector('#stage-guest[data-state="hand"]', timeout=WAIT_MS)
            await viewer.get_by_role("button", name="Lower hand").first.wait_for()

            # 5. The moderator sees the hand with the question, invites (microphone only).
            mod = await mod_ctx.new_page()
            watch_page(mod, errors)
            await mod.goto(mod_url)
            await mod.wait_for_url(f"**/e/{slug}/moderate")
            hand_item = mod.locator(f'#stage-panel li[data-question="{qid}"]')
            await hand_item.wait_for(timeout=WAIT_MS)
            assert question in (await hand_item.text_content() or "")
            assert "Li Wei" in (await hand_item.text_content() or "")
            await hand_item.get_by_role("button", name="邀请（麦克风）").click()

            # 6. The viewer is invited, allows the microphone, joins backstage: nobody put them on air yet.
            await viewer.wait_for_selector('#stage-guest[data-state="invited"]', timeout=WAIT_MS)
            assert "You are invited to ask by voice" in (await viewer.locator("#stage-guest").text_content() or "")
            await viewer.get_by_role("button", name="Allow microphone and join").click()
            await viewer.wait_for_selector('#stage-guest[data-state="backstage"]', timeout=MEDIA_WAIT_MS)

            # 7. The moderator hears them backstage (the preview's level moves), then puts them on air.
            guest_row = mod.locator('#stage-panel li[data-kind="guest"]')
            await guest_row.wait_for(timeout=MEDIA_WAIT_MS)
            assert await guest_row.get_attribute("data-on-air") == "false"
            guest_id = await guest_row.get_attribute("data-member")
            await mod.wait_for_function(
                f"() => +document.querySelector('li[data-member=\"{guest_id}\"] .stage-tile').dataset.level > 5",
                timeout=MEDIA_WAIT_MS,
            )
            await guest_row.locator('[data-role="on-air"]').click()
            await viewer.wait_for_selector('#stage-guest[data-state="on_air"]', timeout=WAIT_MS)
            assert "You are on air" in (await viewer.locator("#stage-guest").text_content() or "")
            await viewer.wait_for_function(
                "() => /\\d+:\\d\\d left/.test(document.querySelector('#stage-guest .remaining').textContent)"
            )
            await viewer.wait_for_selector("#now-answering:not([hidden])", timeout=WAIT_MS)
            assert question in (await viewer.locator("#now-answering .now-text").text_content() or "")
            await assert_fits_phone(viewer, "viewer on air")
            await viewer.screenshot(path=screenshot_path("stage-viewer-on-air-phone"))
            await _segments_after(media, 4)
            marks["guest"] = listed(media)
            assert await viewer.get_attribute("#stage-guest", "data-state") == "on_air"  # still on air

            # 8. Cut with one click: the viewer is told, and leaves the stage and the layout.
            await mod.locator(f'li[data-member="{guest_id}"] [data-role="cut"]').click()
            await viewer.wait_for_selector('#stage-guest[data-state="ended"]', timeout=WAIT_MS)
            await mod.wait_for_selector('#stage-panel li[data-kind="guest"]', state="detached", timeout=WAIT_MS)
            await anna.wait_for_selector(f'li[data-member="{guest_id}"]', state="detached", timeout=WAIT_MS)
            await _segments_after(media, 4)
            marks["cut"] = listed(media)
            await mod.screenshot(path=screenshot_path("stage-moderator"), full_page=True)
            await anna.screenshot(path=screenshot_path("stage-studio"), full_page=True)
        except BaseException:
            print("stage changes:", changes)
            print("page errors:", errors)  # what the pages said, to tell a defect from a slow machine
            for ctx in browsers:
                for context in ctx.contexts:
                    for page in context.pages:
                        panel = await page.evaluate(
                            "() => [document.querySelector('#stage-panel, #stage-guest')?.outerHTML,"
                            " document.querySelector('#preview-tag')?.outerHTML]"
                        )
                        print(page.url, panel)
            raise
        finally:
            for browser in browsers:
                await browser.close()
    await stage_server.app.state.ctx.media.end_stream(slug)
    assert errors == []

    paths = segments(media)
    tones = (ANNA_TONE, BEN_TONE, GUEST_TONE)
    seen = [(picture_of(path), voices_of(path, tones)) for path in paths]
    print("marks:", marks)
    print("segments:", seen)
    layouts = [layout for layout, _ in seen if layout in ("forward", "speaker", "grid", "grid3")]
    runs = [layout for i, layout in enumerate(layouts) if i == 0 or layouts[i - 1] != layout]
    # In this order; an expert whose connection dropped and came back may add a short run in between.
    expected = iter(runs)
    assert all(step in expected for step in ["forward", "speaker", "grid", "grid3", "grid"]), runs
    anna_alone, both, all_three = {ANNA_TONE}, {ANNA_TONE, BEN_TONE}, set(tones)
    voices = [v for _, v in seen]

    def heard(start: int, end: int) -> list[set[float]]:
        return [v for v in voices[max(0, start) : end] if v is not None]

    assert anna_alone in heard(0, marks["forward"]), seen  # Anna alone before Ben went on air
    assert both in heard(marks["speaker"], marks["grid"]), seen  # both experts mixed
    assert heard(marks["guest"] - 4, marks["guest"]).count(all_three) >= 2, seen  # and the viewer with them
    assert heard(marks["cut"] - 2, marks["cut"]) == [both, both], seen  # cut: the viewer gone, the experts on


async def _segments_after(media: Path, n: int) -> None:
    """Wait for `n` more segments of the programme (each ~1 s)."""
    at = listed(media)
    await wait_for(lambda: listed(media) >= at + n, 30, message=f"{n} more segments")


async def test_a_viewer_is_brought_on_air_and_cut_from_the_pages(browser: Any, page_server: LiveServer) -> None:
    """The lighter half, in one Chromium: the viewer (English, phone width) raises a hand by keyboard, the
    moderator (Chinese) sees it with the question, invites, previews the voice backstage, puts them on air and
    cuts them with one click. Nobody else is on air, so the programme is the viewer's voice forwarded as is."""
    base = page_server.base_url
    question = "How close to the tunnel may we dewater?"
    slug, mod_url, viewer_token, qid = await _guest_event(base, "guest", question)
    auth = {"Authorization": f"Bearer {viewer_token}"}

    errors: list[str] = []
    viewer_ctx = await browser.new_context(locale="en-US", viewport=PHONE)
    mod_ctx = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    try:
        await viewer_ctx.add_init_script(UNSUPPRESSED)
        await viewer_ctx.add_cookies([{"name": f"sitecast_{slug}", "value": viewer_token, "url": base}])
        viewer = await viewer_ctx.new_page()
        watch_page(viewer, errors)
        await viewer.goto(f"{base}/e/{slug}")
        hand = viewer.get_by_role("button", name="Raise hand to speak")
        await hand.wait_for(timeout=WAIT_MS)
        await hand.focus()
        await viewer.keyboard.press("Enter")
        await viewer.wait_for_selector('#stage-guest[data-state="hand"]', timeout=WAIT_MS)
        assert "moderator sees your question" in (await viewer.locator("#stage-guest").text_content() or "")
        await assert_fits_phone(viewer, "viewer with a raised hand")

        mod = await mod_ctx.new_page()
        watch_page(mod, errors)
        await mod.goto(mod_url)
        assert await mod.locator("#stage-title").text_content() == "舞台：上播与连麦"
        hand_item = mod.locator(f'#stage-panel li[data-question="{qid}"]')
        await hand_item.wait_for(timeout=WAIT_MS)
        assert question in (await hand_item.text_content() or "") and "Li Wei" in (await hand_item.text_content() or "")
        invite = hand_item.get_by_role("button", name="邀请（麦克风）")
        await invite.focus()
        await mod.keyboard.press("Enter")

        # Invited: nobody is on air until the moderator says so.
        await viewer.wait_for_selector('#stage-guest[data-state="invited"]', timeout=WAIT_MS)
        await viewer.get_by_role("button", name="Allow microphone and join").click()
        await viewer.wait_for_selector('#stage-guest[data-state="backstage"]', timeout=MEDIA_WAIT_MS)
        await viewer.get_by_text("The moderator is listening", exact=False).wait_for(timeout=MEDIA_WAIT_MS)
        guest_row = mod.locator('#stage-panel li[data-kind="guest"]')
        await guest_row.wait_for(timeout=MEDIA_WAIT_MS)
        assert await guest_row.get_attribute("data-on-air") == "false"
        assert "Li Wei" in (await guest_row.text_content() or "")
        guest_id = await guest_row.get_attribute("data-member")
        await mod.wait_for_function(
            f"() => +document.querySelector('li[data-member=\"{guest_id}\"] .stage-tile').dataset.level > 5",
            timeout=MEDIA_WAIT_MS,
        )  # the moderator hears the guest backstage
        await guest_row.get_by_role("button", name="上播").click()

        await viewer.wait_for_selector('#stage-guest[data-state="on_air"]', timeout=WAIT_MS)
        await viewer.wait_for_function(
            "() => /^\\d+:\\d\\d left$/.test(document.querySelector('#stage-guest .remaining').textContent)"
        )
        await viewer.wait_for_selector("#now-answering:not([hidden])", timeout=WAIT_MS)
        assert question in (await viewer.locator("#now-answering .now-text").text_content() or "")
        await assert_fits_phone(viewer, "viewer on air")
        await viewer.screenshot(path=screenshot_path("stage-guest-on-air-phone-en"))
        await mod.screenshot(path=screenshot_path("stage-moderator-zh"), full_page=True)

        await guest_row.get_by_role("button", name="挂断").click()  # one click
        await viewer.wait_for_selector('#stage-guest[data-state="ended"]', timeout=WAIT_MS)
        assert "has ended" in (await viewer.locator("#stage-guest").text_content() or "")
        await mod.wait_for_selector('#stage-panel li[data-kind="guest"]', state="detached", timeout=WAIT_MS)
        async with httpx.AsyncClient(base_url=base, timeout=20) as api:
            mine = (await api.get(f"/api/v1/events/{slug}/stage", headers=auth)).json()["mine"]
        assert (mine["invited"], mine["member"]) == (False, None)  # coming back needs a new invitation
    finally:
        await viewer_ctx.close()
        await mod_ctx.close()
    assert errors == []


async def _guest_event(base: str, prefix: str, question: str = "May we dewater here?") -> tuple[str, str, str, int]:
    """A live event with a moderator and a viewer whose question is approved: (slug, moderator url, viewer
    token, question id)."""
    slug = unique_slug(prefix)
    async with httpx.AsyncClient(base_url=base, timeout=20) as api:
        made = await api.post("/api/v1/events", headers=ADMIN, json={"slug": slug, "title_zh": "连麦答疑"})
        assert made.status_code == 201, made.text
        assert (
            await api.post(f"/api/v1/events/{slug}/state", json={"state": "live"}, headers=ADMIN)
        ).status_code == 200
        invites = f"/api/v1/events/{slug}/invites"
        mod_url = (await api.post(invites, headers=ADMIN, json={"role": "moderator", "name": "李主持"})).json()["url"]
        joined = await api.post(f"/api/v1/events/{slug}/join", json={"name": "Li Wei", "organisation": "Line 5"})
        token = joined.json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        asked = await api.post(f"/api/v1/events/{slug}/questions", json={"text": question}, headers=auth)
        qid = asked.json()["id"]
        approved = await api.post(
            f"/api/v1/events/{slug}/questions/{qid}/actions", json={"action": "approve"}, headers=ADMIN
        )
        assert approved.status_code == 200, approved.text
    return slug, mod_url, token, qid


async def test_an_invitation_survives_a_reload_of_the_viewer_page(browser: Any, page_server: LiveServer) -> None:
    """Regression: a viewer invited on air who reloaded the page (or whose connection dropped) lost the
    invitation. Reloaded while invited, and again while publishing backstage, the page offers it again, and
    joining again works: one guest session on the stage, the new one."""
    base = page_server.base_url
    slug, _mod_url, token, qid = await _guest_event(base, "reload")
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, timeout=20) as api:
        invited = await api.post(f"/api/v1/events/{slug}/stage/invitations", json={"question_id": qid}, headers=ADMIN)
        assert invited.status_code == 201, invited.text

    errors: list[str] = []
    viewer_ctx = await browser.new_context(locale="en-US", viewport=PHONE)
    try:
        await viewer_ctx.add_init_script(UNSUPPRESSED)
        await viewer_ctx.add_cookies([{"name": f"sitecast_{slug}", "value": token, "url": base}])
        viewer = await viewer_ctx.new_page()
        watch_page(viewer, errors)
        await viewer.goto(f"{base}/e/{slug}")
        await viewer.wait_for_selector('#stage-guest[data-state="invited"]', timeout=WAIT_MS)
        await viewer.reload()
        await viewer.wait_for_selector('#stage-guest[data-state="invited"]', timeout=WAIT_MS)  # still offered
        await viewer.get_by_role("button", name="Allow microphone and join").click()
        await viewer.wait_for_selector('#stage-guest[data-state="backstage"]', timeout=MEDIA_WAIT_MS)

        async def mine() -> dict[str, Any]:
            async with httpx.AsyncClient(base_url=base, timeout=20) as api:
                return (await api.get(f"/api/v1/events/{slug}/stage", headers=auth)).json()["mine"]  # type: ignore[no-any-return]

        async def guests() -> list[str]:
            async with httpx.AsyncClient(base_url=base, timeout=20) as api:
                stage = (await api.get(f"/api/v1/events/{slug}/stage", headers=ADMIN)).json()
            return [m["id"] for m in stage["members"] if m["kind"] == "guest"]

        first = await wait_for(lambda: _member_of(mine), 15, message="the first guest session on the stage")

        # Reloaded while publishing backstage: the invitation is offered again, and joining replaces the
        # old session (which the server may not have noticed gone yet).
        await viewer.reload()
        await viewer.wait_for_selector('#stage-guest[data-state="invited"]', timeout=WAIT_MS)
        assert (await mine())["invited"] is True
        await viewer.get_by_role("button", name="Allow microphone and join").click()
        await viewer.wait_for_selector('#stage-guest[data-state="backstage"]', timeout=MEDIA_WAIT_MS)
        second = await wait_for(
            lambda: _member_of(mine, other_than=first), 15, message="the new guest session on the stage"
        )
        assert await guests() == [second]
        await viewer.get_by_text("The moderator is listening", exact=False).wait_for(timeout=WAIT_MS)
    finally:
        await viewer_ctx.close()
    assert errors == []


async def _member_of(mine: Any, other_than: str | None = None) -> str | None:
    member = (await mine())["member"]
    return member if member is not None and member != other_than else None


@pytest.mark.xfail(
    strict=False,
    reason="the restarted monitor's level meter stayed silent in 3 of 4 runs before a restart dropped the old "
    "session's stream and meter (9b3ee16); since, 51 of 52 runs passed (2026-12-07, load 1-9, 30 in a row with "
    "the page instrumented) but it failed once in a full suite run (05:48); with the page instrumented it passed "
    "every run, the stage files alone included: cause not captured, kept non-strict until it is",
)
async def test_the_backstage_monitor_starts_again_when_no_media_arrives(browser: Any, page_server: LiveServer) -> None:
    """The moderator's monitor of a guest whose session stays connected but stops receiving (as once in CI
    under heavy load) says "重新连接…" and starts a new WHEP session by itself; the voice comes back."""
    base = page_server.base_url
    slug, mod_url, token, qid = await _guest_event(base, "monitor")
    service = page_server.app.state.ctx.media
    errors: list[str] = []
    viewer_ctx = await browser.new_context(locale="en-US", viewport=PHONE)
    mod_ctx = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    try:
        await viewer_ctx.add_init_script(UNSUPPRESSED)
        await viewer_ctx.add_cookies([{"name": f"sitecast_{slug}", "value": token, "url": base}])
        mod = await mod_ctx.new_page()
        watch_page(mod, errors)
        await mod.goto(mod_url)
        await mod.wait_for_url(f"**/e/{slug}/moderate")
        async with httpx.AsyncClient(base_url=base, timeout=20) as api:
            invited = await api.post(
                f"/api/v1/events/{slug}/stage/invitations", json={"question_id": qid}, headers=ADMIN
            )
            assert invited.status_code == 201, invited.text
        await mod.locator("#stage-title").click()  # the page's first click: sound may play
        viewer = await viewer_ctx.new_page()
        watch_page(viewer, errors)
        await viewer.goto(f"{base}/e/{slug}")
        await viewer.get_by_role("button", name="Allow microphone and join").click()
        await viewer.wait_for_selector('#stage-guest[data-state="backstage"]', timeout=MEDIA_WAIT_MS)

        guest_row = mod.locator('#stage-panel li[data-kind="guest"]')
        await guest_row.wait_for(timeout=MEDIA_WAIT_MS)
        guest_id = await guest_row.get_attribute("data-member")
        tile = f'li[data-member="{guest_id}"] .stage-tile'
        hears = f"() => +document.querySelector('{tile}').dataset.level > 5"
        await mod.wait_for_selector(f'{tile}[data-link="playing"]', timeout=MEDIA_WAIT_MS)
        await mod.wait_for_function(hears, timeout=MEDIA_WAIT_MS)
        sessions = {p.id for p in service.registry.peers(slug, "whep")}
        assert len(sessions) == 1

        # The fault: the session stays connected, but the member's packets no longer reach it.
        monitor = service._events[slug].taps[guest_id].monitor
        monitor.viewers.clear()
        await mod.wait_for_selector(f'{tile}[data-link="reconnecting"]', timeout=WAIT_MS)
        assert await mod.locator(f"{tile} .link-state").text_content() == "重新连接…"
        await mod.wait_for_selector(f'{tile}[data-link="playing"]', timeout=MEDIA_WAIT_MS)
        await mod.wait_for_function(hears, timeout=MEDIA_WAIT_MS)
        await wait_for(
            lambda: {p.id for p in service.registry.peers(slug, "whep")} - sessions, 10, message="a new session"
        )
        await wait_for(lambda: len(service.registry.peers(slug, "whep")) == 1, 10, message="the old one closed")
    finally:
        await viewer_ctx.close()
        await mod_ctx.close()
    assert errors == []
