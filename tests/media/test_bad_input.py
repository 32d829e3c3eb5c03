"""Bad input gets a clear 4xx in the agreed JSON shape, never a 500, and live media goes on."""

from __future__ import annotations

import random

import httpx
import pytest
from aiortc import RTCPeerConnection

from server.media.hls import LIVE_PLAYLIST

from .conftest import MediaServer, publish_token, wait_for
from .publishers import AiortcPublisher

pytestmark = pytest.mark.media

AUTH = {"Authorization": f"Bearer {publish_token('ev1')}"}
SDP = {"Content-Type": "application/sdp"}
FRAG = {"Content-Type": "application/trickle-ice-sdpfrag"}
FUZZ_CASES = 40
TRAVERSALS = (
    "/live/ev1/../../etc/passwd",
    "/live/ev1/%2e%2e/%2e%2e/etc/passwd",
    "/live/ev1/..%2f..%2fetc%2fpasswd",
    "/live/ev1/live.m3u8",
    "/live/ev1/index.m3u8",
    "/archive/ev1/index.m3u8",
    "/live/ev1/screen/../index.m3u8",
    "/live/..%2f..%2fetc/index.m3u8",
)


async def real_offer() -> str:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("video", direction="sendonly")
        pc.addTransceiver("audio", direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp
    finally:
        await pc.close()


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()["error"]
    assert body["message"]
    if code is not None:
        assert body["code"] == code


async def test_auth_content_type_size_and_sessions(media_server: MediaServer) -> None:
    offer = await real_offer()
    async with media_server.client() as http:
        assert_error(await http.post("/whip/ev1", content=offer, headers=SDP), 401, "unauthorized")
        wrong = {"Authorization": "Bearer nope", **SDP}
        assert_error(await http.post("/whip/ev1", content=offer, headers=wrong), 403, "forbidden")
        assert_error(await http.post("/whip/nope", content=offer, headers={**AUTH, **SDP}), 404)
        assert_error(await http.post("/whip/ev1", content=offer, headers={**AUTH, "Content-Type": "text/plain"}), 415)
        huge = offer + "a=x-padding:" + "x" * (70 * 1024) + "\r\n"
        assert_error(await http.post("/whip/ev1", content=huge, headers={**AUTH, **SDP}), 413, "too_large")
        assert_error(await http.post("/whip/ev1", content=b"\xff\xfe", headers={**AUTH, **SDP}), 400)
        assert_error(await http.post("/whip/ev1", content="hello", headers={**AUTH, **SDP}), 400, "bad_sdp")
        bad_source = await http.post("/whip/ev1?source=window", content=offer, headers={**AUTH, **SDP})
        assert_error(bad_source, 400, "bad_source")
        assert_error(await http.patch("/whip/ev1/nosuch", content="a=end-of-candidates", headers={**AUTH, **FRAG}), 404)
        assert_error(await http.patch("/whip/ev1/nosuch", content="x", headers={**AUTH, **SDP}), 415)
        assert_error(await http.delete("/whip/ev1/nosuch", headers=AUTH), 404, "unknown_session")
        assert_error(await http.delete("/whip/ev1/nosuch"), 401)
        not_live = await http.post("/whep/ev2", content=offer, headers={**SDP, "Authorization": "Bearer pub-ev2"})
        assert_error(not_live, 409, "not_live")
        options = await http.options("/whip/ev1")
        assert options.status_code == 204 and "POST" in options.headers["allow"]
        for path in TRAVERSALS:
            # httpx normalises some of these before sending: a 404 from anywhere will do.
            assert (await http.get(path)).status_code == 404, path
    assert len(media_server.service.registry) == 0  # nothing half-made stays behind


async def test_mangled_offers_are_4xx_and_live_stream_keeps_going(media_server: MediaServer) -> None:
    offer = await real_offer()
    lines = offer.splitlines()
    rng = random.Random(20261124)
    pub = AiortcPublisher(media_server.url, "ev1", publish_token("ev1"))
    try:
        assert (await pub.start()).status_code == 201
        live = media_server.media_dir / "ev1" / LIVE_PLAYLIST
        await wait_for(lambda: live.is_file() and live.read_text().count("#EXTINF") >= 1, what="first segment")
        async with media_server.client() as http:
            for _ in range(FUZZ_CASES):
                mangled = list(lines)
                for _ in range(rng.randint(1, 4)):
                    i = rng.randrange(len(mangled))
                    choice = rng.random()
                    if choice < 0.4:
                        del mangled[i]
                    elif choice < 0.8:
                        cut = rng.randrange(len(mangled[i]) + 1)
                        mangled[i] = mangled[i][:cut]
                    else:
                        mangled[i] = mangled[i] + " " + "9" * rng.randint(1, 30)
                # Screen source: the camera is live, so a well-formed offer would be 201 there.
                response = await http.post(
                    "/whip/ev1?source=screen", content="\r\n".join(mangled) + "\r\n", headers={**AUTH, **SDP}
                )
                assert response.status_code in (201, 400), (response.status_code, response.text)
                if response.status_code == 201:
                    assert (await http.delete(response.headers["location"], headers=AUTH)).status_code == 200
                    continue
                assert response.json()["error"]["code"] in ("bad_sdp",)
        # Counted from the segment callbacks: the live playlist is a window of 6, maybe full already.
        before = len(media_server.segments)
        await wait_for(lambda: len(media_server.segments) > before, what="live segments still coming")
        assert media_server.service.state("ev1") == "live"
    finally:
        await pub.close()
