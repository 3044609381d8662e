"""Everything no other handler took, and errors: always a polite answer, never a traceback."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError, RetryAfter, TimedOut

from handlers.callbacks import InvalidCallback
from handlers.common import answer, answer_button, saying
from handlers.context import BotContext
from handlers.views import help as views

logger = logging.getLogger(__name__)


async def unknown_button(update: Update, context: BotContext) -> None:
    """Answer a button this bot does not know (old, garbled or forged)."""
    query = update.callback_query
    assert query is not None
    await answer_button(query, views.stale_button())


async def unknown_command(update: Update, context: BotContext) -> None:
    """Answer a command this bot does not have."""
    await answer(update, context, saying(views.unknown_command))


async def edited_message(update: Update, context: BotContext) -> None:
    """Say that edits are not read, so nobody believes an edited answer was changed."""
    await answer(update, context, saying(views.edited_message))


async def group_command(update: Update, context: BotContext) -> None:
    """Citizens talk to the bot in private: say so in a group."""
    message = update.effective_message
    assert message is not None
    await message.reply_text(views.private_chat_please())


async def on_error(update: object, context: BotContext) -> None:
    """Log the failure without personal data and tell the person to try again."""
    error = context.error
    if not isinstance(update, Update):
        logger.error("Error outside an update: %s", type(error).__name__, exc_info=error)
        return
    query = update.callback_query
    if isinstance(error, InvalidCallback) and query is not None:
        logger.info("Invalid callback data in update %s", update.update_id)
        await _safely(query.answer(views.stale_button()))
        return
    # Ids and the exception only: texts and names could be personal data.
    logger.error("Update %s failed: %s", update.update_id, type(error).__name__, exc_info=error)
    if isinstance(error, Forbidden | RetryAfter | NetworkError | TimedOut):
        return  # Telegram is the problem; another message would fail the same way.
    if query is not None:
        await _safely(query.answer(views.failure()))
    elif update.effective_chat is not None:
        await _safely(context.bot.send_message(update.effective_chat.id, views.failure()))


async def _safely(awaitable: object) -> None:
    try:
        await awaitable  # type: ignore[misc]
    except Exception:  # the error handler must not fail itself
        logger.warning("Could not tell the person about an error", exc_info=True)
