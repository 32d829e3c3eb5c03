"""Replays of the outside probes of issue 12 against WHIP/WHEP: how sessions end, failed
negotiations, loss of media, bad offers, and browsers on another origin (CORS)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import random
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from aiortc import RTCPeerConnection, RTCSessionDescription
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from server.db.migrate import upgrade
from server.media import registry
from tests.media.conftest import MediaServer, publish_token, requires_ffmpeg, run_media_server, wait_for
from tests.media.publishers import AiortcPublisher, PausableTrack
from tests.support import LiveServer, WsClient, live_server

# Real WebRTC peers and servers: about 45 s in all, so out of `make test-fast`.
pytestmark = [pytest.mark.drill, pytest.mark.media, pytest.mark.slow]

AUTH = {"Authorization": f"Bearer {publish_token('ev1')}"}
SDP = {"Content-Type": "application/sdp"}
# The promise: viewers learn of a publisher's lost media within this many seconds.
TOLD_WITHIN_SECONDS = 5.0
MANGLED_WHEP_OFFERS = 60


@pytest.fixture
async def media_server(tmp_path: Path) -> AsyncIterator[MediaServer]:
    async with run_media_server(tmp_path / "media") as server:
        yield server


@pytest.fixture(scope="module")
async def app_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    """The whole app on SQLite: what a media session does to the stream state does not depend on the engine."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('drill-db') / 'sitecast.db'}"
    upgrade(url)
    async with live_server(database_url=url, media_dir=tmp_path_factory.mktemp("drill-media")) as server:
        yield server


async def offer_sdp(direction: str = "sendonly") -> str:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("video", direction=direction)
        pc.addTransceiver("audio", direction=direction)
        await pc.setLocalDescription(await pc.createOffer())
        return str(pc.localDescription.sdp)
    finally:
        await pc.close()


def warnings_about(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and text in r.getMessage()]


# -- how sessions end ------------------------------------------------------------------------


async def test_delete_after_the_publisher_closed_its_peer_is_200_and_the_stream_goes_idle(
    media_server: MediaServer,
) -> None:
    # medooze's WHIP client closes its peer connection, then DELETEs: the BYE arrives first.
    pub = AiortcPublisher(media_server.url, "ev1", publish_token("ev1"))
    try:
        assert (await pub.start()).status_code == 201
        await wait_for(lambda: (feed := media_server.service.feed("ev1")) is not None and feed.frames_in > 10)
    finally:
        await pub.close()
    await wait_for(lambda: media_server.service.state("ev1") == "reconnecting", what="the BYE noticed")
    assert (await pub.delete()).status_code == 200
    assert media_server.service.state("ev1") == "idle"
    assert (await pub.delete()).status_code == 200  # idempotent
    async with media_server.client() as http:
        unknown = await http.delete("/whip/ev1/never-issued", headers=AUTH)
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_session"
        other_event = await http.delete(pub.location.replace("/ev1/", "/ev2/"), headers=AUTH)  # type: ignore[union-attr]
        assert other_event.status_code in (403, 404)  # a session id is only ever good for its own event
    assert [s for slug, s in media_server.states if slug == "ev1"] == ["live", "reconnecting", "idle"]


async def test_delete_racing_the_bye_is_200_and_idle(media_server: MediaServer) -> None:
    pub = AiortcPublisher(media_server.url, "ev2", publish_token("ev2"))
    try:
        assert (await pub.start()).status_code == 201
        await wait_for(lambda: (feed := media_server.service.feed("ev2")) is not None and feed.frames_in > 10)
    finally:
        await pub.close()
    assert (await pub.delete()).status_code == 200  # at once, while the BYE may be being handled
    await wait_for(lambda: media_server.service.state("ev2") == "idle", what="idle")
    assert len(media_server.service.registry) == 0


async def test_dtls_failure_ends_the_session_idle_with_a_warning(
    media_server: MediaServer, caplog: pytest.LogCaptureFixture
) -> None:
    # A well-formed fingerprint of another certificate: the offer is fine, the handshake cannot be.
    caplog.set_level(logging.WARNING, logger="server.media")
    pub = AiortcPublisher(media_server.url, "ev1", publish_token("ev1"))
    try:
        pub.pc.addTransceiver(pub.video_track, direction="sendonly")
        pub.pc.addTransceiver(pub.audio_track, direction="sendonly")
        await pub.pc.setLocalDescription(await pub.pc.createOffer())
        other = "a=fingerprint:sha-256 " + ":".join(["AB"] * 32)
        offer = re.sub(r"a=fingerprint:sha-256 \S+", other, pub.pc.localDescription.sdp)
        async with media_server.client() as http:
            answer = await http.post("/whip/ev1", content=offer, headers={**AUTH, **SDP})
        assert answer.status_code == 201
        await pub.pc.setRemoteDescription(RTCSessionDescription(sdp=answer.text, type="answer"))
        await wait_for(lambda: media_server.service.state("ev1") == "idle", what="idle after the failed handshake")
    finally:
        await pub.close()
    assert warnings_about(caplog, "failed to connect: DTLS handshake failed"), caplog.text
    assert len(media_server.service.registry) == 0
    assert (await http_delete(media_server, answer.headers["location"])).status_code == 200  # ended, not unknown


async def http_delete(server: MediaServer, location: str) -> httpx.Response:
    async with server.client() as http:
        return await http.delete(location, headers=AUTH)


@requires_ffmpeg
async def test_ffmpeg_default_p224_certificate_fails_cleanly_to_idle_with_the_reason(
    media_server: MediaServer, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.media.test_ffmpeg_whip import run_ffmpeg_publisher

    caplog.set_level(logging.WARNING, logger="server.media")
    rc = await run_ffmpeg_publisher(f"{media_server.url}/whip/ev3", publish_token("ev3"))
    assert rc != 0  # see the xfail in tests/media/test_ffmpeg_whip.py: OpenSSL here has no P-224 group
    await wait_for(lambda: media_server.service.state("ev3") == "idle", what="idle after the P-224 handshake")
    assert [s for slug, s in media_server.states if slug == "ev3"] == ["live", "idle"]
    assert warnings_about(caplog, "DTLS handshake failed: Error:"), caplog.text
    assert len(media_server.service.registry) == 0


async def test_a_session_that_never_connects_is_closed_as_failed(
    media_server: MediaServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An offer without candidates that nobody follows up: ICE never starts, the publisher slot is held.
    monkeypatch.setattr(registry, "CONNECT_TIMEOUT_SECONDS", 1.0)
    caplog.set_level(logging.WARNING, logger="server.media")
    offer = "".join(line + "\r\n" for line in (await offer_sdp()).splitlines() if not line.startswith("a=candidate"))
    async with media_server.client() as http:
        answer = await http.post("/whip/ev2", content=offer, headers={**SDP, "Authorization": "Bearer pub-ev2"})
        assert answer.status_code == 201
        await wait_for(lambda: media_server.service.state("ev2") == "idle", what="idle after the deadline")
        assert warnings_about(caplog, "failed to connect: not connected after"), caplog.text
        again = AiortcPublisher(media_server.url, "ev2", publish_token("ev2"))
        try:
            assert (await again.start()).status_code == 201  # the slot is free again
        finally:
            await again.close()


# -- loss of media ---------------------------------------------------------------------------


async def test_publisher_that_stops_sending_shows_viewers_reconnecting_then_live(app_server: LiveServer) -> None:
    from tests.server.test_questions import Party

    async with httpx.AsyncClient(base_url=app_server.base_url, timeout=20) as client:
        party = await Party.create(client)
    token = party.expert["Authorization"].removeprefix("Bearer ")
    watcher = await WsClient(f"{app_server.ws_url}/api/v1/events/{party.slug}/ws").connect()
    pub = AiortcPublisher(app_server.base_url, party.slug, token)
    video, audio = PausableTrack(pub.video_track), PausableTrack(pub.audio_track)
    pub.video_track, pub.audio_track = video, audio

    def state_frames(state: str) -> list[dict[str, Any]]:
        return [f for f in watcher.of_type("stream.state") if f["data"]["state"] == state]

    try:
        assert (await pub.start()).status_code == 201
        await watcher.wait(lambda f: f["type"] == "stream.state" and f["data"]["state"] == "live", timeout=20)
        feed = app_server.app.state.ctx.media.feed(party.slug)
        await wait_for(lambda: feed.frames_in > 30, what="media flowing")
        loop = asyncio.get_running_loop()
        video.paused = audio.paused = True  # the browser's capture died; its peer connection did not
        stopped = loop.time()
        await watcher.wait(lambda f: f["type"] == "stream.state" and f["data"]["state"] == "reconnecting", timeout=10)
        told_after = loop.time() - stopped
        assert told_after <= TOLD_WITHIN_SECONDS, told_after
        assert pub.pc.connectionState == "connected"
        video.paused = audio.paused = False
        await watcher.wait(lambda f: f["type"] == "stream.state" and len(state_frames("live")) >= 2, timeout=10)
        assert watcher.of_type("stream.state")[-1]["data"] == {"state": "live", "sources": ["camera"]}
    finally:
        await pub.close()
        await watcher.close()


# -- bad offers and failed negotiations ------------------------------------------------------


async def test_garbage_fingerprints_and_bundles_are_400_with_a_message(
    media_server: MediaServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="server.media")
    offer = await offer_sdp()
    fingerprint = re.compile(r"a=fingerprint:[^\r\n]*")
    cases = {
        "garbage": fingerprint.sub("a=fingerprint:garbage", offer),
        "not hex": fingerprint.sub("a=fingerprint:sha-256 zz:zz", offer),
        "too short": fingerprint.sub("a=fingerprint:sha-256 AB:CD", offer),
        "unknown hash": fingerprint.sub("a=fingerprint:md5 " + ":".join(["AB"] * 16), offer),
        "no fingerprint": fingerprint.sub("a=x-nothing", offer),
        "bundle of unknown mids": offer.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 7 1"),
        "mid missing": offer.replace("a=mid:1\r\n", ""),
    }
    async with media_server.client() as http:
        for name, mangled in cases.items():
            for path, token in (("/whip/ev1", "pub-ev1"), ("/whep/ev1", "staff-ev1")):
                refused = await http.post(path, content=mangled, headers={**SDP, "Authorization": f"Bearer {token}"})
                assert refused.status_code in (400, 409), (name, path, refused.text)
                if path.startswith("/whip"):  # WHEP may be "not live" first; WHIP reads the offer
                    assert refused.status_code == 400, (name, refused.text)
                    assert refused.json()["error"]["code"] == "bad_sdp" and refused.json()["error"]["message"], name
    assert len(warnings_about(caplog, "WHIP offer for ev1 refused (400 bad_sdp)")) == len(cases)
    assert len(media_server.service.registry) == 0


async def test_failed_whep_negotiations_leave_no_unretrieved_task_exception(media_server: MediaServer) -> None:
    # Was: mangled WHEP offers (a BUNDLE naming a mid no section has) left aiortc's connect task
    # dying with AttributeError, reported as "Task exception was never retrieved" when collected.
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    rng = random.Random(20261206)
    pub = AiortcPublisher(media_server.url, "ev1", publish_token("ev1"))
    try:
        assert (await pub.start()).status_code == 201
        await wait_for(lambda: (feed := media_server.service.feed("ev1")) is not None and feed.frames_in > 10)
        offer = await offer_sdp("recvonly")
        lines = offer.splitlines()
        statuses: dict[int, int] = {}
        async with media_server.client() as http:
            # The probe's case first (a BUNDLE naming a mid no section has), then random damage.
            for body in (offer.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 7 1"), offer.replace("a=mid:0", "a=mid:")):
                response = await http.post(
                    "/whep/ev1", content=body, headers={**SDP, "Authorization": "Bearer staff-ev1"}
                )
                assert response.status_code == 400, response.text
            for _ in range(MANGLED_WHEP_OFFERS):
                mangled = list(lines)
                for _ in range(rng.randint(1, 4)):
                    i = rng.randrange(len(mangled))
                    choice = rng.random()
                    if choice < 0.4:
                        del mangled[i]
                    elif choice < 0.8:
                        mangled[i] = mangled[i][: rng.randrange(len(mangled[i]) + 1)]
                    else:
                        mangled[i] += " " + "9" * rng.randint(1, 30)
                body = "\r\n".join(mangled) + "\r\n"
                staff = {**SDP, "Authorization": "Bearer staff-ev1"}
                response = await http.post("/whep/ev1", content=body, headers=staff)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code == 201:
                    await http.delete(response.headers["location"], headers={"Authorization": "Bearer staff-ev1"})
        assert set(statuses) <= {201, 400}, statuses
        for _ in range(3):  # a dead task reports its exception when it is collected
            gc.collect()
            await asyncio.sleep(0.2)
    finally:
        loop.set_exception_handler(previous)
        await pub.close()
    assert reported == [], [c.get("message") for c in reported]


# -- browsers on another origin (CORS) -------------------------------------------------------


async def test_cors_preflight_and_answers_for_whip_and_whep(media_server: MediaServer) -> None:
    origin = {"Origin": "https://player.example"}
    async with media_server.client() as http:
        for path, methods in (("/whip/ev1", "POST"), ("/whep/ev1", "POST"), ("/whip/ev1/some-session", "DELETE")):
            preflight = await http.options(
                path,
                headers={
                    **origin,
                    "Access-Control-Request-Method": methods,
                    "Access-Control-Request-Headers": "authorization, content-type, if-match",
                },
            )
            assert preflight.status_code == 204, path
            assert preflight.headers["access-control-allow-origin"] == "*"
            assert methods in preflight.headers["access-control-allow-methods"]
            allowed = {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
            assert {"authorization", "content-type", "if-match"} <= allowed
            assert "access-control-allow-credentials" not in preflight.headers
        pub = AiortcPublisher(media_server.url, "ev1", publish_token("ev1"))
        try:
            pub.pc.addTransceiver(pub.video_track, direction="sendonly")
            await pub.pc.setLocalDescription(await pub.pc.createOffer())
            offer = pub.pc.localDescription.sdp
            created = await http.post("/whip/ev1", content=offer, headers={**AUTH, **SDP, **origin})
            assert created.status_code == 201
            assert created.headers["access-control-allow-origin"] == "*"
            exposed = {h.strip().lower() for h in created.headers["access-control-expose-headers"].split(",")}
            assert {"location", "link", "etag"} <= exposed
            refused = await http.post("/whep/ev1", content="v=0\r\n", headers={**SDP, **origin})
            assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == "*"
            ended = await http.delete(created.headers["location"], headers={**AUTH, **origin})
            assert ended.status_code == 200 and ended.headers["access-control-allow-origin"] == "*"
        finally:
            await pub.close()
        same_origin = await http.options("/whip/ev1")  # no Origin: a plain WHIP client, no CORS
        assert same_origin.status_code == 204 and "access-control-allow-origin" not in same_origin.headers


async def test_a_cookie_does_not_authorise_a_cross_origin_whip_request(app_server: LiveServer) -> None:
    from tests.server.test_questions import Party

    async with httpx.AsyncClient(base_url=app_server.base_url, timeout=20) as client:
        party = await Party.create(client)
        token = party.expert["Authorization"].removeprefix("Bearer ")
        cookie = {"Cookie": f"sitecast_{party.slug}={token}", **SDP}
        foreign = await client.post(
            f"/whip/{party.slug}", content="v=0\r\n", headers={**cookie, "Origin": "https://evil.example"}
        )
        assert foreign.status_code == 403, foreign.text
        assert foreign.json()["error"]["message"]
        assert "access-control-allow-credentials" not in foreign.headers
        # The studio page on our own origin still publishes with its cookie (past auth: the SDP is read).
        own_origin = {**cookie, "Origin": app_server.base_url}
        own = await client.post(f"/whip/{party.slug}", content="v=0\r\n", headers=own_origin)
        assert own.status_code == 400 and own.json()["error"]["code"] == "bad_sdp"
        bearer = await client.post(
            f"/whip/{party.slug}",
            content="v=0\r\n",
            headers={**SDP, "Authorization": f"Bearer {token}", "Origin": "https://evil.example"},
        )
        assert bearer.status_code == 400  # a bearer token works from anywhere


CROSS_ORIGIN_JS = """
async ([whip, token]) => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', {direction: 'sendonly'});
  pc.addTransceiver('audio', {direction: 'sendonly'});
  await pc.setLocalDescription(await pc.createOffer());
  const post = await fetch(whip, {method: 'POST', body: pc.localDescription.sdp,
    headers: {'Content-Type': 'application/sdp', 'Authorization': 'Bearer ' + token}});
  const location = post.headers.get('Location');
  const answer = await post.text();
  const ended = await fetch(new URL(location, whip), {method: 'DELETE',
    headers: {'Authorization': 'Bearer ' + token}});
  let withCookies = 'allowed';
  try {
    await fetch(whip, {method: 'POST', body: 'v=0', credentials: 'include',
      headers: {'Content-Type': 'application/sdp', 'Authorization': 'Bearer ' + token}});
  } catch (error) {
    withCookies = 'blocked';
  }
  pc.close();
  return {status: post.status, location, answer: answer.slice(0, 3), deleted: ended.status, withCookies};
}
"""


@contextlib.asynccontextmanager
async def other_origin() -> AsyncIterator[str]:
    """A second tiny site on another port: the page a third-party WHIP client would be served from."""

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>another origin</title>")

    server = uvicorn.Server(
        uvicorn.Config(Starlette(routes=[Route("/", page)]), host="127.0.0.1", port=0, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started or task.done(), within=10, what="second site")
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


@pytest.mark.browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian package chromium")
async def test_chromium_page_from_another_origin_publishes_over_whip(media_server: MediaServer) -> None:
    from playwright.async_api import async_playwright

    from tests.media.test_chromium import launch

    async with other_origin() as site, async_playwright() as pw:
        browser = await launch(pw)
        try:
            page = await browser.new_page()
            await page.goto(site)
            result = await page.evaluate(CROSS_ORIGIN_JS, [f"{media_server.url}/whip/ev4", publish_token("ev4")])
        finally:
            await browser.close()
    assert result["status"] == 201 and result["answer"] == "v=0", result
    assert result["location"].startswith("/whip/ev4/")  # exposed to the page
    assert result["deleted"] == 200  # the DELETE's preflight passed too
    assert result["withCookies"] == "blocked"  # no Access-Control-Allow-Credentials, ever
