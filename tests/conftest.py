"""Fixtures: a fresh database per test (SQLite, or PostgreSQL via TEST_DATABASE_URL)."""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

import bot.app
from bot.db import create_engine, create_sessionmaker
from bot.logs import quiet_noisy_loggers
from models.consultation import VIEWS
from sandbox import Sandbox
from tests.auxil.people import prepare_database


def _database_of_this_worker(url: str | None) -> str | None:
    """TEST_DATABASE_URL, or under pytest-xdist a database of this worker's own beside it.

    Tests empty their database before they start; two workers on one would empty each other's.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if url is None or worker is None:
        return url
    server, _, name = url.rpartition("/")
    own = f"{name}_{worker}"

    async def create() -> None:
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", own):
                await connection.execute(f'CREATE DATABASE "{own}"')
        finally:
            await connection.close()

    asyncio.run(create())
    return f"{server}/{own}"


POSTGRES_URL = _database_of_this_worker(os.environ.get("TEST_DATABASE_URL"))
IN_CI = bool(os.environ.get("CI"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the tests that do not apply to this run's database (deselected, not skipped).

    A race between two writers exists only on PostgreSQL; a database file only on SQLite. CI
    runs both databases, so each such test runs exactly once there and nothing is skipped.
    """
    other = "sqlite_only" if POSTGRES_URL else "postgres_only"
    left_out = [item for item in items if item.get_closest_marker(other) is not None]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item.get_closest_marker(other) is None]


class TokenLeaks(logging.Handler):
    """Formats every record logged during the run and notes those containing ``token``."""

    def __init__(self, token: str) -> None:
        super().__init__(logging.NOTSET)
        self.token = token
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)  # message, arguments and traceback
        except Exception:
            text = f"{record.msg} {record.args}"
        if self.token in text:
            self.leaks.append(f"{record.name}: {text[:500]}")


@pytest.fixture(scope="session", autouse=True)
def _no_bot_token_in_logs() -> Iterator[None]:
    """Nothing logged in the whole run may contain the (sandbox) bot token.

    Logging is set up as in production (INFO, httpx quiet: it logs URLs with the token), and
    every record is checked; the run fails at the end if one contained the token.
    """
    token = inspect.signature(Sandbox).parameters["token"].default
    quiet_noisy_loggers()
    handler = TokenLeaks(token)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    yield
    root.removeHandler(handler)
    root.setLevel(level)
    assert not handler.leaks, f"the bot token was logged: {handler.leaks[:5]}"


@pytest.fixture(autouse=True)
def _no_reply_spacing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Send a reply's messages back to back: the sandbox in the tests has no per-chat limit.

    In production the bot keeps Telegram's pace per chat after a short burst
    (bot/ratelimit.py); here thousands of one-second waits would only make the suite slow.
    Bot processes the tests start themselves keep the pace.
    """
    monkeypatch.setattr(
        bot.app, "ReplyRateLimiter", functools.partial(bot.app.ReplyRateLimiter, per_chat=0.0)
    )


@pytest.fixture(autouse=True)
def _no_cached_questions() -> Iterator[None]:
    """Each test starts with no consultation's questions kept from another test's database."""
    VIEWS.clear()
    yield
    VIEWS.clear()


@pytest.fixture
async def prepared_database_url(tmp_path: Path) -> str:
    """A database a bot process starts on at once: every table, the newest migration stamped.

    SQLite of this test, or TEST_DATABASE_URL (emptied first). For tests that put rows in
    before the bot starts; ``empty_database_url`` (tests/e2e) leaves the schema to the bot.
    """
    url = POSTGRES_URL or f"sqlite+aiosqlite:///{tmp_path / 'medvirk.db'}"
    try:
        await prepare_database(url)
    except OSError as error:
        if IN_CI:
            raise
        pytest.skip(f"the test database at TEST_DATABASE_URL is unreachable: {error}")
    return url


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
