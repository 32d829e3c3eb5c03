"""Alembic migrations run up and down on both engines, and match the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from server.db.engine import make_engine
from server.db.migrate import downgrade, upgrade
from server.db.models import Base
from tests.conftest import PG_BASE
from tests.support import create_pg_database, drop_pg_database


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('mig') / 'm.db'}"
        return
    url = await create_pg_database(PG_BASE)
    yield url
    await drop_pg_database(PG_BASE, url)


async def test_upgrade_matches_models_and_downgrade_removes_everything(empty_url: str) -> None:
    upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
            assert diff == [], diff
        downgrade(empty_url, "base")
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
            assert set(tables) <= {"alembic_version"}
        upgrade(empty_url)
    finally:
        await engine.dispose()
