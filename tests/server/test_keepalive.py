"""One ping sweep for the hub's sockets (server/realtime/keepalive.py) instead of uvicorn's timers per socket."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.drill.rawws import RawViewer
from tests.server.test_questions import Party
from tests.server.test_realtime import _event_id
from tests.support import LiveServer, wait_for


class _NoPongs:
    """A transport that drops the client's pongs: the client reads on, but never answers a ping."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        if data[:1] != b"\x8a":
            self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


async def _viewer(server: LiveServer, slug: str) -> tuple[RawViewer, Any]:
    """A raw viewer and its server-side protocol, once the sweep adopted it (other tests' sockets may linger)."""
    keepalive = server.app.state.ctx.hub.keepalive
    before = set(keepalive._members)
    viewer = await RawViewer.connect("127.0.0.1", server.settings.port, f"/api/v1/events/{slug}/ws")
    viewer.hello()
    await wait_for(lambda: viewer.texts >= 1, 10, message="snapshot")
    await wait_for(lambda: set(keepalive._members) - before or None, 10, message="adopted by the sweep")
    (protocol,) = set(keepalive._members) - before
    return viewer, protocol


async def test_the_sweep_keeps_viewers_that_answer_and_evicts_one_that_never_pongs(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    party = await Party.create(client)
    hub = server.app.state.ctx.hub
    keepalive = hub.keepalive
    answering, answering_protocol = await _viewer(server, party.slug)
    silent, silent_protocol = await _viewer(server, party.slug)
    silent.transport = _NoPongs(silent.transport)  # type: ignore[assignment]
    # uvicorn's own per-socket ping timers are off for adopted sockets: the sweep is their only ping.
    for p in (answering_protocol, silent_protocol):
        assert p.ping_timer is None and p.pong_timer is None
    keepalive.timeout = 0.5
    for _ in range(3):
        await keepalive.sweep()
        await wait_for(
            lambda: answering_protocol.pong_sweep >= keepalive.sweeps or None, 5, message="the answering viewer's pong"
        )
    assert await silent.wait_closed(5) == 4008  # evicted: resume with your last id
    before = answering.texts
    await wait_for(lambda: silent_protocol not in keepalive._members or None, 5, message="the silent one left")
    assert answering_protocol in keepalive._members
    # The answering viewer is still served after every deadline passed.
    await asyncio.sleep(keepalive.timeout)
    assert not answering.closed.is_set() and answering.close_code is None
    ctx = server.app.state.ctx
    channel = f"public:{await _event_id(server, party.slug)}"
    await ctx.bus.publish(channel, "question.updated", '{"id": 0}')
    await wait_for(lambda: answering.texts > before, 5, message="a frame after the sweeps")
    answering.abort()


async def test_a_pong_with_a_stale_or_made_up_payload_counts_for_nothing(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    party = await Party.create(client)
    keepalive = server.app.state.ctx.hub.keepalive
    viewer, protocol = await _viewer(server, party.slug)
    answered = protocol.pong_sweep
    keepalive.pong(protocol, b"\x00\x00\x00\x00")
    keepalive.pong(protocol, b"\xff" * 4)
    assert protocol.pong_sweep == answered
    viewer.transport = _NoPongs(viewer.transport)  # type: ignore[assignment]
    keepalive.timeout = 0.3
    await keepalive.sweep()
    assert await viewer.wait_closed(5) == 4008
