"""Fixtures: a fresh database per test (SQLite, or PostgreSQL via TEST_DATABASE_URL)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import create_engine, create_sessionmaker

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
IN_CI = bool(os.environ.get("CI"))


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """PostgreSQL when TEST_DATABASE_URL is set, else a SQLite file of this test's own."""
    return POSTGRES_URL or f"sqlite+aiosqlite:///{tmp_path / 'medvirk.db'}"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty schema."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.drop_all)
            await connection.run_sync(SQLModel.metadata.create_all)
    except OSError as error:
        await engine.dispose()
        if IN_CI:
            raise
        pytest.skip(f"the test database at TEST_DATABASE_URL is unreachable: {error}")
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """A session factory on the test database."""
    return create_sessionmaker(engine)


@pytest.fixture
async def session(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One session; tests commit when they need to."""
    async with sessionmaker() as session:
        yield session
