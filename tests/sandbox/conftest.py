"""Fixtures for the sandbox tests: a running sandbox, a PTB Bot and a polling Application."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from telegram import Bot
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from sandbox import Sandbox

USER_ID = 4242

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
Polling = Callable[[AnyApplication], contextlib.AbstractAsyncContextManager[list[BaseException]]]


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without it PTB 22 warns while *building* RetryAfter, and filterwarnings=error turns
    # that warning into the exception the test sees instead of RetryAfter.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """Yield a started sandbox with one user, Kari (id 4242)."""
    async with Sandbox() as sandbox:
        sandbox.add_user(USER_ID, "Kari")
        yield sandbox


@pytest.fixture
def user_id(sandbox: Sandbox) -> int:
    """Return the id (and private chat id) of the sandbox's first user."""
    return sandbox.users[0].id


def ptb_bot(sandbox: Sandbox, token: str | None = None) -> Bot:
    """Return a PTB Bot pointed at the sandbox."""
    return Bot(
        token or sandbox.token,
        base_url=f"{sandbox.url}/bot",
        base_file_url=f"{sandbox.url}/file/bot",
    )


@pytest.fixture
async def bot(sandbox: Sandbox) -> AsyncIterator[Bot]:
    """Yield an initialized PTB Bot talking to the sandbox."""
    async with ptb_bot(sandbox) as bot:
        yield bot


@pytest.fixture
def application(sandbox: Sandbox) -> AnyApplication:
    """Return a PTB Application pointed at the sandbox (add handlers, then run ``polling``)."""
    return (
        ApplicationBuilder()
        .token(sandbox.token)
        .base_url(f"{sandbox.url}/bot")
        .base_file_url(f"{sandbox.url}/file/bot")
        .build()
    )


@contextlib.asynccontextmanager
async def _polling(application: AnyApplication) -> AsyncIterator[list[BaseException]]:
    errors: list[BaseException] = []

    async def on_error(_update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if context.error is not None:
            errors.append(context.error)

    application.add_error_handler(on_error)
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=5)
        try:
            yield errors
        finally:
            await application.updater.stop()
            await application.stop()


@pytest.fixture
def polling() -> Polling:
    """Return a context manager running an application with long polling.

    It yields the list of errors the application's handlers raised.
    """
    return _polling
