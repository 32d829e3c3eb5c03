"""WHIP PATCH (RFC 8840 trickle-ice-sdpfrag), OPTIONS and session routing."""

from __future__ import annotations

import pytest

from .conftest import MediaServer, publish_token, wait_for
from .publishers import AiortcPublisher

pytestmark = [pytest.mark.slow, pytest.mark.media]

FRAG = {"Content-Type": "application/trickle-ice-sdpfrag"}


async def test_trickle_candidates_and_ice_restart_refusal(media_server: MediaServer) -> None:
    auth = {"Authorization": f"Bearer {publish_token('ev1')}"}
    pub = AiortcPublisher(media_server.url, "ev1", publish_token("ev1"))
    try:
        response = await pub.start()
        assert response.status_code == 201
        assert response.headers["accept-patch"] == "application/trickle-ice-sdpfrag"
        offer = pub.pc.localDescription.sdp.splitlines()
        ufrag = next(line for line in offer if line.startswith("a=ice-ufrag:"))
        pwd = next(line for line in offer if line.startswith("a=ice-pwd:"))
        candidate = next(line for line in offer if line.startswith("a=candidate:"))
        fragment = "\r\n".join([ufrag, pwd, "m=audio 9 UDP/TLS/RTP/SAVPF 0", "a=mid:0", candidate, ""])
        async with media_server.client() as http:
            patched = await http.patch(pub.location, content=fragment, headers={**auth, **FRAG})
            assert patched.status_code == 204, patched.text
            end = await http.patch(
                pub.location, content=f"{ufrag}\r\na=end-of-candidates\r\n", headers={**auth, **FRAG}
            )
            assert end.status_code == 204
            restart = await http.patch(
                pub.location,
                content="a=ice-ufrag:zzzz\r\na=ice-pwd:zzzzzzzzzzzzzzzzzzzzzzzz\r\n",
                headers={**auth, **FRAG},
            )
            assert restart.status_code == 422
            assert restart.json()["error"]["code"] == "ice_restart_unsupported"
            other = await http.patch(
                pub.location.replace("/ev1/", "/ev2/"), content=fragment,
                headers={"Authorization": f"Bearer {publish_token('ev2')}", **FRAG},
            )  # fmt: skip
            assert other.status_code == 404  # a session id only works under its own event
            assert (await http.options(pub.location)).status_code == 204
        await wait_for(lambda: len(media_server.segments) >= 1, what="media still flows after trickle")
    finally:
        await pub.close()
