"""One ping sweep for the hub's sockets (server/realtime/keepalive.py) instead of uvicorn's timers per socket."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.drill.rawws import RawViewer
from tests.server.test_questions import Party
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


async def _viewer(server: LiveServer, slug: str) -> RawViewer:
    viewer = await RawViewer.connect("127.0.0.1", server.settings.port, f"/api/v1/events/{slug}/ws")
    viewer.hello()
    await wait_for(lambda: viewer.texts >= 1, 10, message="snapshot")
    return viewer


async def test_the_sweep_keeps_viewers_that_answer_and_evicts_one_that_never_pongs(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    party = await Party.create(client)
    hub = server.app.state.ctx.hub
    keepalive = hub.keepalive
    answering = await _viewer(server, party.slug)
    silent = await _viewer(server, party.slug)
    silent.transport = _NoPongs(silent.transport)  # type: ignore[assignment]
    await wait_for(lambda: len(keepalive) == 2, 10, message="both sockets adopted by the sweep")
    protocols = list(keepalive._members)
    # uvicorn's own per-socket ping timers are off for adopted sockets: the sweep is their only ping.
    assert all(p.ping_timer is None and p.pong_timer is None for p in protocols)
    keepalive.timeout = 0.5
    for _ in range(3):
        await keepalive.sweep()
        await wait_for(
            lambda: any(p.pong_sweep == keepalive.sweeps for p in protocols), 5, message="the answering viewer's pong"
        )
    assert await silent.wait_closed(5) == 4008  # evicted: resume with your last id
    before = answering.texts
    await wait_for(lambda: len(keepalive) == 1, 5, message="the silent socket left the sweep")
    # The answering viewer is still served after every deadline passed.
    await asyncio.sleep(keepalive.timeout)
    assert not answering.closed.is_set() and answering.close_code is None
    ctx = server.app.state.ctx
    channel = next(ch for ch in hub._by_channel if ch.startswith("public:"))
    await ctx.bus.publish(channel, "question.updated", '{"id": 0}')
    await wait_for(lambda: answering.texts > before, 5, message="a frame after the sweeps")
    answering.abort()


async def test_a_pong_with_a_stale_or_made_up_payload_counts_for_nothing(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    party = await Party.create(client)
    keepalive = server.app.state.ctx.hub.keepalive
    viewer = await _viewer(server, party.slug)
    await wait_for(lambda: len(keepalive) == 1, 10, message="adopted")
    (protocol,) = list(keepalive._members)
    answered = protocol.pong_sweep
    keepalive.pong(protocol, b"\x00\x00\x00\x00")
    keepalive.pong(protocol, b"\xff" * 4)
    assert protocol.pong_sweep == answered
    viewer.transport = _NoPongs(viewer.transport)  # type: ignore[assignment]
    keepalive.timeout = 0.3
    await keepalive.sweep()
    assert await viewer.wait_closed(5) == 4008
