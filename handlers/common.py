"""What every handler shares: a reply to deliver, the language, the transaction per update."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from handlers.context import BotContext
from handlers.i18n import _, guess_language, set_language
from models.participant import Participant, find_participant, has_consented

logger = logging.getLogger(__name__)


@dataclass
class Outgoing:
    """One message: HTML text and an optional inline keyboard."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None


@dataclass
class Reply:
    """What the bot answers to one update, rendered inside the transaction, sent after it."""

    edit: Outgoing | None = None  # replaces the message the pressed button was on
    send: list[Outgoing] = field(default_factory=list)
    notice: str | None = None  # a short toast on a button press (a message otherwise)


class Abort(Exception):
    """Roll the transaction back and answer with ``reply``: nothing the update did is kept."""

    def __init__(self, reply: Reply) -> None:
        super().__init__("abort")
        self.reply = reply


Action = Callable[[AsyncSession, Participant | None, datetime], Awaitable[Reply]]


async def run(update: Update, context: BotContext, action: Action) -> Reply:
    """Run ``action`` in one transaction with the sender's participant row (or None).

    Sets the reply language first: the stored choice, else Telegram's language code, else
    the default. The reply is rendered inside the transaction, while rows are loaded, and
    returned to be sent after the commit: a person never sees a step that was not stored.
    """
    runtime = context.runtime
    user = update.effective_user
    assert user is not None
    set_language(guess_language(user.language_code, runtime.default_language))
    try:
        async with runtime.sessionmaker() as session, session.begin():
            participant = await find_participant(session, user.id)
            if participant is not None and participant.language:
                set_language(participant.language)
            return await action(session, participant, runtime.clock())
    except Abort as abort:
        return abort.reply


async def consented(session: AsyncSession, participant: Participant | None) -> Participant:
    """Return the participant if they accepted the privacy notice; else abort politely."""
    if participant is None or not await has_consented(session, participant):
        raise Abort(
            Reply(
                send=[
                    Outgoing(_("First, please read and accept the privacy notice: send /start."))
                ]
            )
        )
    return participant


async def deliver(update: Update, context: BotContext, reply: Reply) -> None:
    """Send a reply: answer the button, edit its message, send the rest."""
    query = update.callback_query
    chat = update.effective_chat
    assert chat is not None
    if query is not None:
        await query.answer(reply.notice)
    elif reply.notice:
        reply.send.insert(0, Outgoing(reply.notice))
    if reply.edit is not None and query is not None and query.message is not None:
        try:
            await query.edit_message_text(
                reply.edit.text,
                parse_mode=ParseMode.HTML,
                reply_markup=reply.edit.keyboard,
            )
        except BadRequest as error:
            # Pressing the same button twice re-renders identical content; Telegram refuses.
            if "not modified" not in str(error).lower():
                raise
    for message in reply.send:
        await context.bot.send_message(
            chat.id,
            message.text,
            parse_mode=ParseMode.HTML,
            reply_markup=message.keyboard,
        )


async def answer(update: Update, context: BotContext, action: Action) -> None:
    """Run ``action`` in a transaction and deliver what it rendered."""
    await deliver(update, context, await run(update, context, action))
