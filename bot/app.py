"""Build the PTB application and run it against Telegram (or the sandbox) by long polling."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from telegram import Update
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes

import handlers
from bot.db import create_engine, create_sessionmaker, upgrade
from bot.settings import Settings
from handlers.context import BotContext, Clock, Runtime, install_runtime
from handlers.menu import publish_commands
from models.base import utcnow

logger = logging.getLogger(__name__)

BotApplication = Application[Any, BotContext, Any, Any, Any, Any]


def build_application(settings: Settings, runtime: Runtime) -> BotApplication:
    """Wire settings, database and handlers into a PTB application."""
    assert settings.bot_token is not None
    application = (
        ApplicationBuilder()
        .token(settings.bot_token.get_secret_value())
        .base_url(settings.api_base_url)
        .base_file_url(settings.file_base_url)
        .context_types(ContextTypes(context=BotContext))
        # Retries a 429 after Telegram's retry_after instead of losing the message
        # (PTB's default is max_retries=0).
        .rate_limiter(AIORateLimiter(max_retries=3))
        .connect_timeout(10)
        .read_timeout(15)
        .write_timeout(15)
        .pool_timeout(10)
        .build()
    )
    install_runtime(application, runtime)
    handlers.register(application)
    return application


async def serve_polling(
    settings: Settings, *, stop: asyncio.Event | None = None, clock: Clock | None = None
) -> None:
    """Migrate, connect and answer updates by long polling until SIGINT/SIGTERM or ``stop``."""
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        runtime = Runtime(
            create_sessionmaker(engine),
            default_language=settings.default_language,
            admin_ids=settings.admin_ids,
            clock=clock or utcnow,
        )
        application = build_application(settings, runtime)
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
        async with application:
            await publish_commands(application.bot, settings.default_language)
            await application.start()
            assert application.updater is not None
            await application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
            logger.info("Medvirk is running as @%s (long polling)", application.bot.username)
            await stop.wait()
            logger.info("Stopping")
            await application.updater.stop()
            await application.stop()
    finally:
        await engine.dispose()
