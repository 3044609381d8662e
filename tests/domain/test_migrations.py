"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from bot.db import create_engine, schema_is_current, upgrade

pytestmark = pytest.mark.postgres


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.drop_all)
            await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        assert not await schema_is_current(engine)
        await upgrade(engine)
        assert await schema_is_current(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
        await upgrade(engine)  # a second run changes nothing
    finally:
        await engine.dispose()
