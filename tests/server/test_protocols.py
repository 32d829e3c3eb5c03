"""The edge every entry point serves with (server/protocols.py), and 503 when an engine is away."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from server.cli import serve
from server.protocols import HttpProtocol, WebSocketProtocol, uvicorn_options
from server.settings import Settings
from tests.drill.rawws import RawViewer, client_frame
from tests.server.test_questions import Party
from tests.support import LiveServer, free_port, live_server


def test_every_entry_point_serves_with_the_same_edge() -> None:
    options = uvicorn_options(Settings(header_timeout_seconds=3.5))
    assert issubclass(options["http"], HttpProtocol) and options["http"].header_timeout_seconds == 3.5
    assert options["ws"] is WebSocketProtocol and options["ws_per_message_deflate"] is False
    assert "web: python -m server web" in (Path(__file__).parents[2] / "Procfile").read_text()
    assert serve.__module__ == "server.cli"  # `make run` and the Procfile's web process both call it


async def test_a_request_head_that_never_ends_gets_408_and_is_closed(tmp_path: Path) -> None:
    async with live_server(header_timeout_seconds=0.5, media_dir=tmp_path) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.settings.port)
        opened = time.monotonic()
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        for _ in range(3):
            await asyncio.sleep(0.2)  # a byte now and then does not push the deadline back
            writer.write(b"x")
        answer = await asyncio.wait_for(reader.read(), 5)
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert time.monotonic() - opened < 2.0
        writer.close()


async def test_a_fragmented_message_over_4_kib_is_closed_1009(server: LiveServer, client: httpx.AsyncClient) -> None:
    party = await Party.create(client)
    viewer = await RawViewer.connect("127.0.0.1", server.settings.port, f"/api/v1/events/{party.slug}/ws")
    viewer.hello()
    # Every fragment is small; together they pass 4 KiB and the message never finishes.
    viewer.send_raw(client_frame(0x1, b"x" * 1000, fin=False))
    for _ in range(4):
        viewer.send_raw(client_frame(0x0, b"x" * 1000, fin=False))
    assert await viewer.wait_closed(5) == 1009


async def test_database_away_is_503_unavailable_never_500(tmp_path: Path) -> None:
    nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/gone"  # nothing listens there
    async with (
        live_server(database_url=nowhere, media_dir=tmp_path) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=20) as client,
    ):
        response = await client.get("/api/v1/events")
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "unavailable"
        assert response.headers["Retry-After"] == "2"
        assert (await client.get("/metrics")).status_code == 200
