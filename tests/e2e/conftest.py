"""The real bot, long polling over HTTP against the sandbox, on a migrated empty database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import serve_polling
from bot.db import create_engine, create_sessionmaker, upgrade
from bot.settings import Settings
from sandbox import Sandbox
from tests.conftest import IN_CI, POSTGRES_URL

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns while building RetryAfter unless this is set; warnings are errors here.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def empty_database_url(tmp_path: Path) -> str:
    """A database with no tables at all, so the bot's own migrations build the schema."""
    if POSTGRES_URL is None:
        return f"sqlite+aiosqlite:///{tmp_path / 'medvirk.db'}"
    engine = create_engine(POSTGRES_URL)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.drop_all)
            await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    except OSError as error:
        if IN_CI:
            raise
        pytest.skip(f"the test database at TEST_DATABASE_URL is unreachable: {error}")
    finally:
        await engine.dispose()
    return POSTGRES_URL


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """A running sandbox Bot API server."""
    async with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def settings(sandbox: Sandbox, empty_database_url: str) -> Settings:
    """Settings pointing the bot at the sandbox and the test database."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=SecretStr(sandbox.token),
        telegram_api_url=sandbox.url,
        database_url=empty_database_url,
    )


class Clock:
    """A settable clock for the bot."""

    def __init__(self) -> None:
        self.now = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """The time the bot sees."""
    return Clock()


@pytest.fixture
async def db(
    settings: Settings,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the bot's database (migrated), for setting up and checking."""
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    yield create_sessionmaker(engine)
    await engine.dispose()


BotRunner = Callable[[], contextlib.AbstractAsyncContextManager[None]]


@pytest.fixture
def run_bot(settings: Settings, clock: Clock) -> BotRunner:
    """Start the real bot (migrations, PTB, long polling) for the duration of a block."""

    @contextlib.asynccontextmanager
    async def running() -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(serve_polling(settings, stop=stop, clock=clock))
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=20)

    return running


@pytest.fixture
async def bot(run_bot: BotRunner) -> AsyncIterator[None]:
    """The bot, running."""
    async with run_bot():
        yield
