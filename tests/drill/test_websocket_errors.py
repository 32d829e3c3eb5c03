"""A database that refuses connections (PostgreSQL "too many connections", SQLSTATE 53300) is "briefly
unavailable", on HTTP and on the WebSocket handshake alike: a 503 with Retry-After, never a 500, never a
crash in the error handler. Found by the fan-out bench when a shared PostgreSQL ran out of slots."""

from __future__ import annotations

import logging
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import websockets

from server.db.migrate import upgrade
from tests.conftest import PG_BASE
from tests.support import create_pg_database, drop_pg_database, live_server, postgres_admin_dsn

pytestmark = pytest.mark.drill


async def test_a_postgresql_out_of_connections_is_a_503_on_http_and_on_the_websocket_handshake(
    caplog: pytest.LogCaptureFixture,
) -> None:
    database = await create_pg_database(PG_BASE)
    upgrade(database)
    role = f"sitecast_full_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres_admin_dsn(PG_BASE))
    try:
        # A role allowed no connection at all: every attempt is refused with "too many connections".
        await admin.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 0')
        parts = urlsplit(database)
        refused = urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port or 5432}"))
        caplog.set_level(logging.WARNING)
        async with live_server(database_url=refused) as server:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as client:
                answer = await client.get("/api/v1/events/no-such-event")
                assert answer.status_code == 503, answer.text
                assert answer.json()["error"]["code"] == "unavailable" and answer.headers["Retry-After"]
            with pytest.raises(websockets.InvalidStatus) as denied:
                async with websockets.connect(f"{server.ws_url}/api/v1/events/no-such-event/ws"):
                    pass
            assert denied.value.response.status_code == 503
            assert b'"unavailable"' in denied.value.response.body
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    finally:
        await drop_pg_database(PG_BASE, database)
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()
