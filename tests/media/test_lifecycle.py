"""The registry closes everything: no peer, task, thread or file descriptor outlives the app."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import threading
from pathlib import Path

import pytest

from .conftest import publish_token, run_media_server, wait_for, watch_token
from .publishers import AiortcPublisher, AiortcViewer

pytestmark = [pytest.mark.slow, pytest.mark.media]


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def describe(fds: set[str]) -> dict[str, str]:
    out = {}
    for fd in fds:
        with contextlib.suppress(OSError):  # closed meanwhile (listdir's own descriptor)
            out[fd] = os.readlink(f"/proc/self/fd/{fd}")
    return out


def media_threads() -> list[str]:
    names = ("media-", "audio-decoder", "video-decoder")
    return [t.name for t in threading.enumerate() if t.name.startswith(names)]


async def test_shutdown_leaves_no_peers_tasks_threads_or_files(tmp_path: Path) -> None:
    gc.collect()
    gc.disable()  # as under the heap steward's freeze: only what shutdown closes itself is closed
    try:
        await _run_and_shut_down(tmp_path)
    finally:
        gc.enable()


async def _run_and_shut_down(tmp_path: Path) -> None:
    fds_before = open_fds()
    tasks_before = asyncio.all_tasks()
    # Other tests' session-wide servers may hold their own feeds' threads; only this server's count.
    threads_before = set(media_threads())
    async with run_media_server(tmp_path / "media") as server:
        pub = AiortcPublisher(server.url, "ev1", publish_token("ev1"))
        viewer = AiortcViewer(server.url, "ev1", watch_token("ev1"))
        try:
            assert (await pub.start()).status_code == 201
            await wait_for(lambda: len(server.segments) >= 1, what="a segment")
            assert (await viewer.start()).status_code == 201
            await wait_for(lambda: viewer.frames["video"] > 0, what="viewer video")
            assert len(server.service.registry) == 2
            assert set(media_threads()) - threads_before
        finally:
            # Clients go away first so that only server-side resources are left to check.
            await viewer.close()
            await pub.close()
        # Server still running with its feed's writer thread and maybe peers being reaped:
        # shutdown (app lifespan → MediaService.close) must clean all of it up.
    assert set(media_threads()) - threads_before == set()
    leftover = [t for t in asyncio.all_tasks() - tasks_before if not t.done() and t is not asyncio.current_task()]
    assert leftover == []
    await asyncio.sleep(0)  # let transports finish closing their sockets
    # Shutdown closes the live edge's memfds itself: not left to the cyclic collector, which the app's heap
    # steward freezes (a full suite run leaked six of them before Feed.close released the edge).
    leaked = {fd: path for fd, path in describe(open_fds() - fds_before).items() if path.startswith("/memfd:")}
    assert leaked == {}
    gc.collect()
    await asyncio.sleep(0)
    assert describe(open_fds() - fds_before) == {}


async def test_end_stream_closes_peers_and_reports_states(tmp_path: Path) -> None:
    async with run_media_server(tmp_path / "media") as server:
        pub = AiortcPublisher(server.url, "ev2", publish_token("ev2"))
        late = AiortcPublisher(server.url, "ev2", publish_token("ev2"))
        try:
            assert (await pub.start()).status_code == 201
            await wait_for(lambda: len(server.segments) >= 1, what="a segment")
            await server.service.end_stream("ev2")
            assert len(server.service.registry) == 0
            assert server.service.state("ev2") == "ended"
            refused = await late.start()
            assert refused.status_code == 409 and refused.json()["error"]["code"] == "stream_ended"
        finally:
            await late.close()
            await pub.close()
        assert [s for _, s in server.states] == ["live", "ended"]
